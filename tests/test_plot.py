"""audiokit plot: computations, and PNGs decoded and checked for what they show."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiokit.inputs import Input
from audiokit.output.naming import FilePlan
from audiokit.plots import analysis, spectra
from audiokit.plots.tasks import FigureOptions, PlotJob, SpectralOptions, plot_task
from tests.conftest import sine

SR = 8000


# --------------------------------------------------------------------------- PNG helpers


def png_rgb(path: str | Path) -> np.ndarray:
    """RGB pixels as floats in [0, 1], shape (height, width, 3)."""
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0


def png_info(path: str | Path) -> tuple[tuple[int, int], float]:
    """((width, height), dpi) from the PNG header and pHYs chunk."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size, float(im.info["dpi"][0])


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def _job(kind: str, out: Path, **fig: object) -> PlotJob:
    opts = {"width": 6.0, "height": 3.0, "dpi": 60.0, **fig}
    return PlotJob(
        kind,
        FigureOptions(**opts),
        SpectralOptions(),  # type: ignore[arg-type]
        FilePlan("file", str(out), "", replace=True),
    )


def _inp(path: Path) -> Input:
    return Input(str(path), str(path), path.name)


# --------------------------------------------------------------------------- computations


def test_minmax_envelope_streamed_equals_direct() -> None:
    rng = np.random.default_rng(1)
    y = rng.standard_normal((2, 100_003)).astype(np.float32)
    env = spectra.MinMaxEnvelope(y.shape[1], 777, 2)
    for i in range(0, y.shape[1], 4_096):
        env.feed(y[:, i : i + 4_096])
    cols = np.arange(y.shape[1]) * 777 // y.shape[1]
    for c in (0, 1, 400, 776):
        assert env.mins[1, c] == y[1][cols == c].min()
        assert env.maxs[0, c] == y[0][cols == c].max()
    t = env.column_times(1000, offset=2.0)
    assert t[0] == pytest.approx(2.0 + (128 - 1) / 2 / 1000, abs=1e-3) and np.all(np.diff(t) > 0)


def test_welch_streamed_over_many_chunks_equals_scipy() -> None:
    from scipy.signal import welch

    y = np.random.default_rng(2).standard_normal((1, 1_300_000)).astype(np.float32)
    acc = spectra.SegmentAverage(2048, 1024, 1, "welch", 16000)
    for i in range(0, y.shape[1], 300_000):
        acc.feed(y[:, i : i + 300_000])
    _, ref = welch(y, fs=16000, nperseg=2048)
    np.testing.assert_allclose(acc.finish(), ref, rtol=1e-4)


@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_curves_and_mfcc_equal_librosa_without_importing_it(sample_dir: Path, window: str) -> None:
    import librosa

    params = spectra.StftParams(1024, 256, window)
    for name in ("speech/hello.wav", "music/melody.ogg"):
        y, sr = librosa.load(sample_dir / name, sr=None)
        ours = analysis.spectral_features(y, sr, params)
        mag = np.abs(librosa.stft(y, n_fft=1024, hop_length=256, window=window))
        kw = {"S": mag, "sr": sr, "n_fft": 1024, "hop_length": 256}
        np.testing.assert_allclose(
            ours["centroid"], librosa.feature.spectral_centroid(**kw)[0], rtol=1e-4
        )
        np.testing.assert_allclose(
            ours["bandwidth"], librosa.feature.spectral_bandwidth(**kw)[0], rtol=1e-4
        )
        # rolloff is a threshold crossing: float32 rounding may move it by one bin, rarely
        off = ours["rolloff"] - librosa.feature.spectral_rolloff(**kw)[0]
        assert np.abs(off).max() <= sr / 1024 + 1e-6 and np.mean(off != 0) < 0.01
        np.testing.assert_allclose(
            ours["times"], librosa.frames_to_time(np.arange(mag.shape[1]), sr=sr, hop_length=256)
        )
        mfcc = analysis.feature_matrix(y, sr, "mfcc", params, 20, 64, 50.0, 6000.0)
        ref = librosa.feature.mfcc(
            y=y, sr=sr, n_mfcc=20, n_fft=1024, hop_length=256, window=window,
            n_mels=64, fmin=50.0, fmax=6000.0,
        )  # fmt: skip
        np.testing.assert_allclose(mfcc, ref, atol=2e-3 * np.abs(ref).max())
    code = (
        "import sys, numpy as np\n"
        "from audiokit.plots import analysis, spectra\n"
        "y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)\n"
        "p = spectra.StftParams()\n"
        "analysis.spectral_features(y, 22050, p)\n"
        "analysis.feature_matrix(y, 22050, 'mfcc', p)\n"
        "print('librosa' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- waveform


def test_waveform_size_dpi_and_silent_half_is_flat(write_audio, tmp_path: Path) -> None:
    # 2 x 12 s at 8 kHz: the envelope is built over several decoded blocks.
    y = np.concatenate([np.zeros(SR * 12), sine(200, SR, 12.0, 0.8)]).astype(np.float32)
    path = write_audio("half.wav", y, SR)
    out = tmp_path / "w.png"
    res = plot_task(_job("waveform", out), _inp(path))
    assert (res.width, res.height) == (360, 180) and res.notes["envelope"] is True
    assert png_info(out) == ((360, 180), pytest.approx(60, abs=0.1))
    (panel,) = res.panels
    assert panel.ylim[1] == pytest.approx(0.8 * 1.08, rel=0.02)
    ink = luminance(png_rgb(out)) < 0.8
    top, bottom = int(panel.y_to_row(0.7)), int(panel.y_to_row(-0.7))
    silent = ink[top : bottom + 1, int(panel.x_to_col(0.5)) : int(panel.x_to_col(11.5))]
    loud = ink[top : bottom + 1, int(panel.x_to_col(12.5)) : int(panel.x_to_col(23.5))]
    assert loud.mean() > 0.95  # the envelope fills +-0.8
    assert silent.mean() < 0.1  # only the zero line


def test_short_span_is_drawn_sample_by_sample(sample_dir: Path, tmp_path: Path) -> None:
    res = plot_task(
        _job("waveform", tmp_path / "z.png", start=0.5, duration=0.01),
        _inp(sample_dir / "tones" / "sine440.wav"),
    )
    assert res.notes["envelope"] is False
    assert res.start == 0.5 and res.seconds == pytest.approx(0.01, abs=1e-4)
    assert res.panels[0].xlim == pytest.approx((0.5, 0.51), abs=1e-4)


def test_stereo_lanes_and_channel_choice(sample_dir: Path, tmp_path: Path) -> None:
    pan = _inp(sample_dir / "stereo" / "pan.wav")
    res = plot_task(_job("waveform", tmp_path / "s.png", height=None), pan)
    assert res.lanes == 2
    left, right = res.panels
    assert left.ylim[1] == pytest.approx(0.8 * 1.08, rel=0.02)
    assert right.ylim[1] == pytest.approx(0.25 * 1.08, rel=0.02)
    assert left.bbox[3] < right.bbox[1]  # L above R
    res = plot_task(_job("waveform", tmp_path / "r.png", channel=1), pan)
    assert res.lanes == 1 and res.panels[0].ylim[1] == pytest.approx(0.27, rel=0.02)
    res = plot_task(_job("waveform", tmp_path / "m.png", channel="mix"), pan)
    assert res.lanes == 1 and res.panels[0].ylim[1] < 0.8 * 1.08 * 0.9


# --------------------------------------------------------------------------- other kinds


def _curve_peak_col(img: np.ndarray, bbox: tuple[float, ...]) -> int:
    """Column of the highest drawn point of a curve inside a panel."""
    left, top, right, bottom = (int(round(v)) for v in bbox)
    ink = luminance(img[top + 3 : bottom - 3, left + 3 : right - 3]) < 0.7
    rows = np.where(ink.any(axis=0), ink.argmax(axis=0), 10**6)
    return left + 3 + int(np.argmin(rows))


@pytest.mark.parametrize("kind", ["spectrum", "psd"])
def test_spectrum_and_psd_peak_at_the_tone(kind: str, write_audio, tmp_path: Path) -> None:
    y = sine(440, SR, 1.0, 0.5) + 0.001 * np.random.default_rng(0).standard_normal(SR)
    path = write_audio("tone.wav", y.astype(np.float32), SR)
    out = tmp_path / f"{kind}.png"
    res = plot_task(_job(kind, out), _inp(path))
    assert res.notes["peak_hz"][0] == pytest.approx(440, abs=SR / 2048)
    (panel,) = res.panels
    assert panel.xscale == "log"
    col = _curve_peak_col(png_rgb(out), panel.bbox)
    assert abs(col - panel.x_to_col(440)) <= 3


def test_psd_values_are_scipy_welch(write_audio, tmp_path: Path) -> None:
    from scipy.signal import welch

    from audiokit import audio_io
    from audiokit.plots import kinds, sources

    y = np.random.default_rng(7).standard_normal(SR * 3).astype(np.float32) * 0.1
    path = write_audio("n.wav", y, SR)
    info = audio_io.probe(path)
    f, psd = kinds.welch(str(path), info, sources.resolve_span(info), 1024)
    fr, ref = welch(audio_io.read(path)[0], fs=SR, nperseg=1024)
    np.testing.assert_allclose(f, fr)
    np.testing.assert_allclose(psd, ref, rtol=1e-4)


def test_zcr_counts_and_marks_crossings(sample_dir: Path, tmp_path: Path) -> None:
    import librosa

    path = sample_dir / "tones" / "sine440.wav"
    out = tmp_path / "z.png"
    res = plot_task(_job("zcr", out, start=0.25, duration=0.02), _inp(path))
    y, _ = librosa.load(path, sr=None, offset=0.25, duration=0.02)
    assert res.notes["zero_crossings"] == [int(librosa.zero_crossings(y, pad=False).sum())]
    assert 16 <= res.notes["zero_crossings"][0] <= 18  # 440 Hz: 17.6 crossings in 20 ms
    # The crossing markers are red circles on the zero line.
    img = png_rgb(out)
    (panel,) = res.panels
    row = int(round(panel.y_to_row(0.0)))
    band = img[row - 4 : row + 5, int(panel.bbox[0]) : int(panel.bbox[2])]
    red = (band[..., 0] > 0.6) & (band[..., 1] < 0.4) & (band[..., 2] < 0.4)
    assert red.any(axis=0).sum() >= 2 * res.notes["zero_crossings"][0]


def test_zcr_default_window_is_10_ms_in_the_middle(sample_dir: Path, tmp_path: Path) -> None:
    res = plot_task(_job("zcr", tmp_path / "z.png"), _inp(sample_dir / "tones" / "sine440.wav"))
    assert res.start == pytest.approx(0.995, abs=1e-3)
    assert res.seconds == pytest.approx(0.01, abs=1e-4)


def test_onsets_and_tempo_of_the_melody(sample_dir: Path, tmp_path: Path) -> None:
    res = plot_task(_job("onsets", tmp_path / "o.png"), _inp(sample_dir / "music/melody.ogg"))
    assert res.notes["onsets"] == [8]
    assert 110 <= res.notes["tempo_bpm"][0] <= 125


def test_features_match_librosa(sample_dir: Path, tmp_path: Path) -> None:
    import librosa

    path = sample_dir / "music" / "chord.flac"
    res = plot_task(_job("features", tmp_path / "f.png"), _inp(path))
    y, sr = librosa.load(path, sr=None)
    ref = librosa.feature.spectral_centroid(y=y, sr=sr)[0].mean()
    assert res.notes["mean_centroid_hz"][0] == pytest.approx(ref, rel=1e-3)


def test_chroma_of_a_is_hottest_in_row_a(write_audio, tmp_path: Path) -> None:
    path = write_audio("a.wav", sine(440, 22050, 1.0, 0.5), 22050)
    out = tmp_path / "c.png"
    res = plot_task(_job("chroma", out), _inp(path))
    (panel,) = res.panels
    img = png_rgb(out)
    left, right = int(panel.x_to_col(0.2)), int(panel.x_to_col(0.8))
    redness = [
        img[int(panel.y_to_row(k + 0.5)), left:right, 0].mean()
        - img[int(panel.y_to_row(k + 0.5)), left:right, 2].mean()
        for k in range(12)
    ]
    assert int(np.argmax(redness)) == 9  # A


def test_mfcc_heatmap_rows(write_audio, tmp_path: Path) -> None:
    path = write_audio("n.wav", sine(300, SR, 1.0, 0.5), SR)
    res = plot_task(
        PlotJob(
            "mfcc",
            FigureOptions(width=6, height=3, dpi=60),
            SpectralOptions(n_mfcc=13),
            FilePlan("file", str(tmp_path / "m.png"), "", replace=True),
        ),
        _inp(path),
    )
    (panel,) = res.panels
    assert panel.ylim == (0.0, 13.0) and res.notes["frames"] == 1 + SR // 512


def test_overview_has_four_panels_and_the_tone(write_audio, tmp_path: Path) -> None:
    path = write_audio("tone.wav", sine(440, SR, 1.0, 0.5), SR)
    out = tmp_path / "o.png"
    res = plot_task(_job("overview", out, height=None), _inp(path))
    assert [p.name for p in res.panels] == ["waveform", "stft", "mel", "psd"]
    assert (res.width, res.height) == (360, 600)
    img = luminance(png_rgb(out))
    for panel in res.panels[1:3]:
        left, top, right, bottom = (int(round(v)) for v in panel.bbox)
        rows = img[top + 2 : bottom - 2, left + 3 : right - 3].mean(axis=1)
        assert abs(top + 2 + int(np.argmax(rows)) - panel.y_to_row(440)) <= 3, panel.name


def test_dark_style_has_a_dark_background(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "d.png"
    plot_task(_job("waveform", out, style="dark"), _inp(sample_dir / "tones" / "sine440.wav"))
    img = luminance(png_rgb(out))
    assert img[:3, :].mean() < 0.15 and img[:, :3].mean() < 0.15


def test_in_memory_kinds_refuse_very_long_spans(write_audio, tmp_path: Path) -> None:
    from audiokit.errors import InputError
    from audiokit.plots import sources

    path = write_audio("s.wav", np.zeros(1000, np.float32), 100)
    info = __import__("audiokit.audio_io", fromlist=["probe"]).probe(path)
    span = sources.resolve_span(info)
    with pytest.raises(InputError, match="use --start/--duration"):
        sources.read_lanes(path, info, span, "--kind mfcc", max_seconds=5)


# --------------------------------------------------------------------------- CLI


def test_cli_default_output_name_and_json(
    runner, cli, sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(
        cli,
        [
            "plot",
            str(sample_dir / "tones" / "sine440.wav"),
            "--kind",
            "psd",
            "--json",
            "--dpi",
            "50",
        ],
    )
    assert r.exit_code == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["output"] == "sine440.psd.png" and (tmp_path / "sine440.psd.png").is_file()
    assert (row["width"], row["height"]) == (500, 175) and row["seconds"] == 2.0
    # A second run refuses to overwrite, naming the output; --overwrite replaces it.
    r = runner.invoke(cli, ["plot", str(sample_dir / "tones" / "sine440.wav"), "--kind", "psd"])
    assert r.exit_code == 1
    assert r.stderr.strip() == (
        f"audiokit: {sample_dir / 'tones' / 'sine440.wav'}: sine440.psd.png: "
        "exists (use --overwrite to replace it, --update or --skip-existing)"
    )
    r = runner.invoke(
        cli,
        ["plot", str(sample_dir / "tones" / "sine440.wav"), "--kind", "psd", "--overwrite", "-q"],
    )
    assert r.exit_code == 0 and r.stdout == ""


def test_cli_batch_mirrors_tree_in_parallel(runner, cli, write_audio, tmp_path: Path) -> None:
    for i in range(4):
        write_audio(f"in/d{i % 2}/c{i}.wav", sine(200 + 100 * i, SR, 0.3), SR)
    (tmp_path / "in" / "d0" / "broken.wav").write_bytes(b"RIFF....WAVEjunk")
    r = runner.invoke(
        cli,
        [
            "plot",
            str(tmp_path / "in"),
            "--kind",
            "waveform",
            "-o",
            str(tmp_path / "out") + "/",
            "-j",
            "2",
            "--json",
        ],
    )
    assert r.exit_code == 1
    assert "broken.wav" in r.stderr and r.stderr.count("\n") == 1
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 4
    for i in range(4):
        png = tmp_path / "out" / f"d{i % 2}" / f"c{i}.waveform.png"
        assert png.is_file() and png_info(png)[0] == (1000, 300)
        assert luminance(png_rgb(png)).std() > 0.05  # not blank
    assert not [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]


def test_cli_refuses_ambiguous_outputs(runner, cli, write_audio, tmp_path: Path) -> None:
    a = write_audio("a/x.wav", sine(200, SR, 0.2), SR)
    b = write_audio("a/x.flac", sine(200, SR, 0.2), SR)
    # Inputs that would share a name keep their source extension.
    r = runner.invoke(cli, ["plot", str(a), str(b), "-o", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert names == ["x.flac.waveform.png", "x.wav.waveform.png"]
    r = runner.invoke(cli, ["plot", str(a), str(b)])
    assert r.exit_code == 2 and "-o DIR" in r.stderr
    r = runner.invoke(cli, ["plot", str(a), str(b), "-o", str(tmp_path / "one.png")])
    assert r.exit_code == 2 and "names one file" in r.stderr
    r = runner.invoke(cli, ["plot", str(a), "--channel", "x"])
    assert r.exit_code == 2 and "--channel" in r.stderr
    r = runner.invoke(cli, ["plot", str(a), "--start", "9", "-o", str(tmp_path / "s.png")])
    assert r.exit_code == 1 and "past the end" in r.stderr


def test_cli_start_does_not_import_matplotlib_or_librosa() -> None:
    code = (
        "import sys, audiokit.cli.plot, audiokit.cli.spectrogram; "
        "bad = [m for m in ('matplotlib', 'librosa', 'scipy', 'pyarrow') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_time_ticks_are_readable_for_long_spans() -> None:
    from audiokit.plots import render

    assert render._clock(3725.0, with_hours=True) == "1:02:05"
    assert render._clock(185.0, with_hours=False) == "3:05"
    for start, end, label, first in (
        (0.0, 3.0, "time (s)", None),
        (0.0, 600.0, "time (m:ss)", "0:00"),
        (3600.0, 3 * 3600.0, "time (h:mm:ss)", "1:00:00"),
    ):
        with render.figure(6, 2, 50) as fig:
            (ax,) = render.stack(fig, 1)
            render.time_axis(ax, start, end)
            fig.canvas.draw()
            assert ax.get_xlabel() == label
            ticks = [
                t.get_text()
                for t in ax.get_xticklabels()
                if t.get_text() and start <= t.get_position()[0] <= end
            ]
            assert 3 <= len(ticks) <= 11
            if first:
                assert ticks[0] == first


def test_onsets_tempo_and_beats_equal_librosa(sample_dir: Path) -> None:
    import librosa

    from tests.conftest import CORPUS

    files = [sample_dir / "music/melody.ogg", sample_dir / "speech/with_pauses.flac"]
    files += sorted((CORPUS / "librosa").glob("*.ogg")) if CORPUS.is_dir() else []
    for path in files:
        y, sr = librosa.load(path, sr=None)
        for hop in (512, 256):
            onsets, beats, tempo = analysis.onset_events(y, sr, hop)
            ref_onsets = librosa.onset.onset_detect(y=y, sr=sr, hop_length=hop, units="time")
            ref_tempo, ref_beats = librosa.beat.beat_track(y=y, sr=sr, hop_length=hop, units="time")
            np.testing.assert_array_equal(onsets, ref_onsets, err_msg=f"{path} {hop}")
            np.testing.assert_array_equal(beats, ref_beats, err_msg=f"{path} {hop}")
            assert tempo == pytest.approx(float(np.atleast_1d(ref_tempo)[0]), rel=1e-9)
    silent = np.zeros(22050, np.float32)
    assert [len(a) for a in analysis.onset_events(silent, 22050, 512)[:2]] == [0, 0]
    assert analysis.onset_events(silent, 22050, 512)[2] == 0.0
    out = subprocess.run(
        [sys.executable, "-c", "import sys, numpy as np\n"
         "from audiokit.plots import analysis, spectra\n"
         "analysis.onset_events(np.ones(22050, np.float32), 22050, 512)\n"
         "print('librosa' in sys.modules)\n"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "False"
