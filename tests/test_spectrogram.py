"""audiokit spectrogram: the block-wise STFT, the dB matrix, and what the PNG shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from audiokit.inputs import Input
from audiokit.output.naming import FilePlan
from audiokit.plots import spectra
from audiokit.plots.tasks import FigureOptions, SpectralOptions, SpectrogramJob, spectrogram_task
from tests.conftest import sine
from tests.test_plot import luminance, png_info, png_rgb

SR = 8000


def _job(
    tmp_path: Path,
    scale: str = "log",
    data: str | None = None,
    max_columns: int | None = None,
    start: float | None = None,
) -> SpectrogramJob:
    fo = FigureOptions(width=6.0, height=4.0, dpi=60.0, start=start)
    sp = SpectralOptions(n_mels=64, max_columns=max_columns)
    return SpectrogramJob(
        fo,
        sp,
        FilePlan("file", str(tmp_path / f"out.{scale}.png"), "", replace=True),
        scale=scale,
        data=FilePlan("file", data, "", replace=True) if data else None,
    )


def _decoded(path: Path) -> np.ndarray:
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


def _inp(path: Path) -> Input:
    return Input(str(path), str(path), path.name)


# --------------------------------------------------------------------------- computations


def test_streamed_stft_equals_librosa_frame_for_frame() -> None:
    import librosa

    rng = np.random.default_rng(3)
    y = rng.standard_normal((2, 50_001)).astype(np.float32)
    acc = spectra.PooledStft(spectra.StftParams(1024, 256, "hamming"), lanes=2, pool=1)
    for i in range(0, y.shape[1], 7_777):  # blocks that do not align with hops
        acc.feed(y[:, i : i + 7_777])
    got = acc.finish()
    ref = np.abs(librosa.stft(y, n_fft=1024, hop_length=256, window="hamming")) ** 2
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-3 * ref.max())


def test_pooled_stft_is_the_mean_power_of_consecutive_frames() -> None:
    import librosa

    y = np.random.default_rng(4).standard_normal((1, 40_000)).astype(np.float32)
    acc = spectra.PooledStft(spectra.StftParams(512, 128), lanes=1, pool=6)
    acc.feed(y)
    got = acc.finish()
    ref = np.abs(librosa.stft(y, n_fft=512, hop_length=128)) ** 2
    n = ref.shape[-1]
    pooled = np.stack([ref[..., i : i + 6].mean(-1) for i in range(0, n, 6)], -1)
    assert got.shape == pooled.shape == (1, 257, -(-n // 6))
    np.testing.assert_allclose(got, pooled, rtol=1e-3, atol=1e-3 * ref.max())
    assert spectra.pool_factor(40_000, 128, 53) == 6


def test_db_of_silence_is_dark_not_zero() -> None:
    db = spectra.power_to_db(np.zeros((3, 4)), top_db=70)
    assert np.all(db == -70)
    p = np.array([[1.0, 0.1, 0.0]])
    np.testing.assert_allclose(spectra.power_to_db(p, 80), [[0.0, -10.0, -80.0]], atol=1e-4)


# --------------------------------------------------------------------------- image content


@pytest.mark.parametrize("scale", ["linear", "log", "mel"])
def test_440_hz_tone_is_brightest_at_440_hz_on_the_drawn_axis(
    scale: str, write_audio, tmp_path: Path
) -> None:
    path = write_audio("tone.wav", sine(440, SR, 1.0, 0.5), SR)
    res = spectrogram_task(_job(tmp_path, scale), _inp(path))
    (panel,) = res.panels
    assert panel.yscale == scale
    img = luminance(png_rgb(res.output))
    left, top, right, bottom = (int(round(v)) for v in panel.bbox)
    rows = img[top + 2 : bottom - 2, left + 5 : right - 5].mean(axis=1)
    brightest = top + 2 + int(np.argmax(rows))
    expected = panel.y_to_row(440.0)
    # One linear STFT bin is 3.9 Hz; a pixel row is 14 Hz on the linear axis.
    assert abs(brightest - expected) <= 3, (scale, brightest, expected)
    # ... and a row far from 440 Hz is dark.
    far = int(round(panel.y_to_row(2500.0)))
    assert img[far, left + 5 : right - 5].mean() < 0.15


def test_silent_half_is_dark_in_its_half(write_audio, tmp_path: Path) -> None:
    # 2 x 12 s at 8 kHz: several decoded blocks, and STFT frames pooled to 40 columns.
    rng = np.random.default_rng(0)
    y = np.concatenate([0.3 * rng.standard_normal(SR * 12), np.zeros(SR * 12)])
    path = write_audio("half.wav", y.astype(np.float32), SR)
    res = spectrogram_task(_job(tmp_path, "linear", max_columns=40), _inp(path))
    (panel,) = res.panels
    assert res.notes["pool"] == 10 and res.notes["columns"] == 38
    img = luminance(png_rgb(res.output))
    top, bottom = int(panel.bbox[1]) + 2, int(panel.bbox[3]) - 2
    loud = img[top:bottom, int(panel.x_to_col(1)) : int(panel.x_to_col(11))].mean()
    silent = img[top:bottom, int(panel.x_to_col(13)) : int(panel.x_to_col(23))].mean()
    assert loud > 0.35 and silent < 0.05, (loud, silent)


def test_stereo_lanes_show_each_channel(sample_dir: Path, tmp_path: Path) -> None:
    res = spectrogram_task(_job(tmp_path, "log"), _inp(sample_dir / "stereo" / "pan.wav"))
    assert res.lanes == 2 and len(res.panels) == 2
    img = luminance(png_rgb(res.output))
    for panel, freq in zip(res.panels, (330.0, 660.0), strict=True):
        left, top, right, bottom = (int(round(v)) for v in panel.bbox)
        rows = img[top + 2 : bottom - 2, left + 5 : right - 5].mean(axis=1)
        assert abs(top + 2 + int(np.argmax(rows)) - panel.y_to_row(freq)) <= 3


# --------------------------------------------------------------------------- data


def test_data_npy_is_librosa_amplitude_to_db(write_audio, tmp_path: Path) -> None:
    import librosa

    y = (sine(440, SR, 1.0, 0.5) + sine(1000, SR, 1.0, 0.05)).astype(np.float32)
    path = write_audio("two.wav", y, SR)
    res = spectrogram_task(_job(tmp_path, "linear", data=str(tmp_path / "m.npy")), _inp(path))
    got = np.load(tmp_path / "m.npy")
    y = _decoded(path)
    ref = librosa.amplitude_to_db(np.abs(librosa.stft(y)), ref=np.max, top_db=80.0)
    assert got.shape == ref.shape == (1025, res.notes["columns"])
    np.testing.assert_allclose(got, ref, atol=0.05)


def test_data_mel_and_preemphasis_match_librosa(write_audio, tmp_path: Path) -> None:
    import librosa

    y = np.random.default_rng(5).standard_normal(SR).astype(np.float32) * 0.2
    path = write_audio("noise.wav", y, SR)
    job = _job(tmp_path, "mel", data=str(tmp_path / "mel.npy"))
    res = spectrogram_task(job, _inp(path))
    y = _decoded(path)
    got = np.load(tmp_path / "mel.npy")
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512, n_mels=64)
    np.testing.assert_allclose(got, librosa.power_to_db(mel, ref=np.max, top_db=80), atol=0.05)
    assert res.notes["rows"] == 64

    from dataclasses import replace

    pre = replace(
        job, preemphasis=0.97, data=FilePlan("file", str(tmp_path / "pre.npy"), "", replace=True)
    )
    res = spectrogram_task(pre, _inp(path))
    assert [p.name for p in res.panels] == ["spectrogram", "preemphasis"]
    got = np.load(tmp_path / "pre.npy")
    yp = librosa.effects.preemphasis(y, coef=0.97)
    mel = librosa.feature.melspectrogram(y=yp, sr=SR, n_fft=2048, hop_length=512, n_mels=64)
    np.testing.assert_allclose(got, librosa.power_to_db(mel, ref=np.max, top_db=80), atol=0.05)


def test_data_parquet_long_format(write_audio, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = write_audio("tone.wav", sine(440, SR, 0.5, 0.5), SR)
    res = spectrogram_task(
        _job(tmp_path, "linear", data=str(tmp_path / "m.parquet"), start=0.1), _inp(path)
    )
    tab = pq.read_table(tmp_path / "m.parquet")
    assert tab.column_names == ["time", "frequency", "db"]
    assert tab.num_rows == res.notes["rows"] * res.notes["columns"]
    df = tab.to_pandas()
    peak = df.loc[df["db"].idxmax()]
    assert abs(peak["frequency"] - 440) < SR / 2048 and peak["db"] == 0
    assert df["time"].min() >= 0.1 and df["time"].max() <= 0.5
    assert tab.schema.metadata[b"audiokit.scale"] == b"linear"


# --------------------------------------------------------------------------- CLI


def test_cli_one_file_size_dpi_and_json(runner, cli, write_audio, tmp_path: Path) -> None:
    path = write_audio("tone.wav", sine(440, SR, 1.0, 0.5), SR)
    out = tmp_path / "t.png"
    r = runner.invoke(
        cli,
        [
            "spectrogram",
            str(path),
            "-o",
            str(out),
            "--width",
            "5",
            "--height",
            "3",
            "--dpi",
            "80",
            "--scale",
            "mel",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.stderr
    row = json.loads(r.stdout)
    assert row["output"] == str(out) and (row["width"], row["height"]) == (400, 240)
    size, dpi = png_info(out)
    assert size == (400, 240) and dpi == pytest.approx(80, abs=0.1)


def test_cli_directory_mirrors_tree_with_data(runner, cli, write_audio, tmp_path: Path) -> None:
    write_audio("in/a/x.wav", sine(300, SR, 0.5), SR)
    write_audio("in/b/y.wav", sine(600, SR, 0.5), SR)
    (tmp_path / "in" / "b" / "bad.wav").write_bytes(b"not audio at all")
    r = runner.invoke(
        cli,
        [
            "spectrogram",
            str(tmp_path / "in"),
            "-o",
            str(tmp_path / "out"),
            "--data",
            str(tmp_path / "mats"),
            "--data-format",
            "parquet",
            "-j",
            "2",
        ],
    )
    assert r.exit_code == 1
    assert "bad.wav" in r.stderr and r.stderr.count("audiokit:") == 1
    assert (tmp_path / "out" / "a" / "x.spectrogram.png").is_file()
    assert (tmp_path / "out" / "b" / "y.spectrogram.png").is_file()
    assert (tmp_path / "mats" / "a" / "x.spectrogram.parquet").is_file()
    leftovers = [p for p in tmp_path.rglob(".*") if p.is_file()]
    assert leftovers == []


def test_cli_usage_errors(runner, cli, sample_dir: Path, tmp_path: Path) -> None:
    tone = str(sample_dir / "tones" / "sine440.wav")
    r = runner.invoke(cli, ["spectrogram", tone, "--fmax", "100", "--fmin", "200"])
    assert r.exit_code == 2 and "--fmax" in r.stderr
    r = runner.invoke(cli, ["spectrogram", tone, "--cmap", "nope", "-o", str(tmp_path / "a.png")])
    assert r.exit_code == 2 and "colour map" in r.stderr
    r = runner.invoke(
        cli, ["spectrogram", tone, "--data", str(tmp_path / "m.csv"), "-o", str(tmp_path / "b.png")]
    )
    assert r.exit_code == 2 and ".npy or .parquet" in r.stderr
    r = runner.invoke(
        cli,
        [
            "spectrogram",
            tone,
            "--data",
            str(tmp_path / "m.csv") + "/",
            "-o",
            str(tmp_path / "b.png"),
        ],
    )
    assert r.exit_code == 0, r.stderr
    assert (tmp_path / "m.csv" / "sine440.spectrogram.npy").is_file()
    assert (tmp_path / "b.png").is_file()


def test_cli_help_states_long_file_behaviour(runner, cli) -> None:
    r = runner.invoke(cli, ["spectrogram", "--help"])
    assert r.exit_code == 0
    assert "block by block" in r.stdout and "mean" in r.stdout and "--max-columns" in r.stdout


def test_numpy_preemphasis_equals_librosa() -> None:
    import librosa

    from audiokit.dsp import effects

    y = np.random.default_rng(6).standard_normal((2, 3000)).astype(np.float32)
    a, zf = effects.preemphasis(y[:, :1234], coef=0.9, return_zf=True)
    b = effects.preemphasis(y[:, 1234:], coef=0.9, zi=zf)
    np.testing.assert_allclose(
        np.concatenate([a, b], -1), librosa.effects.preemphasis(y, coef=0.9), atol=1e-6
    )


def test_spectrogram_does_not_import_librosa() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from audiokit.plots import spectrogram, tasks, kinds; "
        "from audiokit.plots.spectra import PooledStft, StftParams, mel_power; "
        "import numpy as np; a = PooledStft(StftParams(), 1); a.feed(np.ones((1, 5000)));"
        "mel_power(a.finish(), 22050, 2048, 64, 0, None); "
        "sys.exit('librosa' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
