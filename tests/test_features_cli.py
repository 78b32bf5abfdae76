"""``audiokit features``: tables, shapes, labels, metadata and failures, via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pyarrow.parquet as pq
import pytest

from audiokit.features import FeatureParams, summary_columns
from tests.conftest import sine

SR = 22050


@pytest.fixture
def dataset(write_audio):
    """data/<class>/*.wav with a short clip, a stereo file at 44.1 kHz and a tiny one."""
    rng = np.random.default_rng(0)
    write_audio(
        "data/dog_bark/a.wav",
        sine(440, SR, 0.6) + 0.01 * rng.standard_normal(int(0.6 * SR)).astype(np.float32),
        SR,
    )
    write_audio("data/dog_bark/b.wav", sine(880, 16000, 0.3), 16000)
    write_audio("data/siren/c.wav", np.stack([sine(330, 44100, 1.2), sine(660, 44100, 1.2)]), 44100)
    return write_audio("data/siren/tiny.wav", sine(1000, SR, 0.01), SR).parent.parent


def test_parquet_summary_rows(runner, cli, dataset, tmp_path) -> None:
    out = tmp_path / "f.parquet"
    res = runner.invoke(
        cli, ["features", str(dataset), "-o", str(out), "--label-from-parent", "-j", "2"]
    )
    assert res.exit_code == 0, res.stderr
    table = pq.read_table(out)
    df = table.to_pandas()
    assert len(df) == 4
    assert list(df.columns[:4]) == ["path", "label", "duration", "sample_rate"]
    assert list(df.columns[4:]) == summary_columns(FeatureParams())
    assert sorted(df["label"]) == ["dog_bark", "dog_bark", "siren", "siren"]
    assert set(df["sample_rate"]) == {SR}
    assert df.loc[df.path.str.endswith("c.wav"), "duration"].iloc[0] == pytest.approx(1.2, 1e-3)
    assert str(table.schema.field("mfcc_00_mean").type) == "float"  # float32
    assert str(table.schema.field("tempo").type) == "float"
    meta = table.schema.metadata
    params = json.loads(meta[b"audiokit.features.params"])
    assert params["n_mfcc"] == 13 and params["sr"] == SR and params["n_fft"] == 2048
    assert meta[b"librosa.version"].decode() == librosa.__version__
    assert meta[b"audiokit.version"]
    assert json.loads(meta[b"audiokit.features.constants"])["chroma"]["tuning"] == "estimated"
    assert params["frame_local"] is False
    # The tiny clip (1 frame) still has a full row: deltas NaN, everything else finite.
    tiny = df[df.path.str.endswith("tiny.wav")].iloc[0]
    assert np.isnan(tiny["mfcc_delta_00_mean"])
    assert np.isfinite(tiny["mfcc_00_mean"]) and np.isfinite(tiny["tempo"])


def test_values_match_the_api(runner, cli, dataset, tmp_path) -> None:
    from audiokit import audio_io
    from audiokit.features import extract

    clip = dataset / "siren" / "c.wav"
    res = runner.invoke(cli, ["features", str(clip), "--features", "mfcc,rms", "--json"])
    assert res.exit_code == 0, res.stderr
    row = json.loads(res.stdout)
    y, sr = audio_io.load(clip, sr=SR)
    ref = extract(y, sr, "mfcc,rms")
    assert row["mfcc_05_std"] == pytest.approx(float(ref.column("mfcc_05_std")[0]), rel=1e-5)
    assert row["rms_max"] == pytest.approx(float(ref.column("rms_max")[0]), rel=1e-5)


def test_frames_csv_native_rate(runner, cli, dataset, tmp_path) -> None:
    out = tmp_path / "frames.csv"
    clip = dataset / "dog_bark" / "b.wav"
    res = runner.invoke(
        cli,
        [
            "features",
            str(clip),
            "--frames",
            "--sr",
            "native",
            "--features",
            "rms,zcr",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.stderr
    import pandas as pd

    df = pd.read_csv(out)
    n = 1 + int(0.3 * 16000) // 512
    assert list(df.columns) == ["path", "duration", "sample_rate", "frame", "time", "zcr", "rms"]
    assert len(df) == n and (df.sample_rate == 16000).all()
    np.testing.assert_allclose(df.time, np.arange(n) * 512 / 16000)
    y, _ = librosa.load(clip, sr=None)
    np.testing.assert_allclose(df.rms, librosa.feature.rms(y=y)[0], rtol=1e-5)


def test_windows_csv_stdout(runner, cli, dataset) -> None:
    clip = dataset / "siren" / "c.wav"
    res = runner.invoke(
        cli,
        [
            "features",
            str(clip),
            "--features",
            "rms,tempo",
            "--segment",
            "0.5",
            "--stats",
            "mean,median,p90",
            "--csv",
        ],
    )
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    header = lines[0].split(",")
    assert header[:6] == ["path", "duration", "sample_rate", "segment", "start", "end"]
    assert header[6:] == ["rms_mean", "rms_median", "rms_p90", "tempo", "beat_count"]
    assert len(lines) == 1 + 3  # 0-0.5, 0.5-1.0, 1.0-1.2


def test_bad_file_is_reported_and_batch_continues(runner, cli, dataset, tmp_path) -> None:
    bad = dataset / "siren" / "broken.wav"
    bad.write_bytes(b"RIFF....not audio at all")
    out = tmp_path / "f.parquet"
    res = runner.invoke(cli, ["features", str(dataset), "-o", str(out), "--features", "rms"])
    assert res.exit_code == 1
    assert "broken.wav" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert pq.read_table(out).num_rows == 4


def test_usage_errors(runner, cli, dataset, tmp_path) -> None:
    clip = str(dataset / "siren" / "c.wav")
    res = runner.invoke(cli, ["features", clip, "--features", "mfcc,bogus"])
    assert res.exit_code == 2 and "bogus" in res.stderr
    res = runner.invoke(cli, ["features", clip, "--stats", "average"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["features", clip, "--frames", "--segment", "1"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["features", clip, "-o", clip.replace(".wav", ".parquet.wav")])
    assert res.exit_code == 2 and "unknown table format" in res.stderr


def test_output_cannot_be_an_input(runner, cli, tmp_path) -> None:
    weird = tmp_path / "x.csv"
    weird.write_bytes(b"")
    res = runner.invoke(cli, ["features", str(weird), "-o", str(weird)])
    assert res.exit_code == 2 and "overwrite an input" in res.stderr


def test_list_columns(runner, cli) -> None:
    res = runner.invoke(
        cli,
        ["features", "--list-columns", "--features", "mfcc", "--n-mfcc", "20", "--stats", "mean"],
    )
    assert res.exit_code == 0
    cols = res.stdout.split()
    assert cols[0] == "mfcc_00_mean" and cols[19] == "mfcc_19_mean" and len(cols) == 60


def test_native_low_rate_all_groups(runner, cli, write_audio, tmp_path) -> None:
    """8 kHz speech-like clip, every group at its own rate: CQT and contrast fit under Nyquist."""
    t = np.arange(int(0.5 * 8000)) / 8000
    y = (0.4 * np.sin(2 * np.pi * 150 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))).astype(
        np.float32
    )
    clip = write_audio("digit.wav", y, 8000)
    res = runner.invoke(
        cli, ["features", str(clip), "--sr", "native", "--features", "all", "--json"]
    )
    assert res.exit_code == 0, res.stderr
    row = json.loads(res.stdout)
    assert row["sample_rate"] == 8000
    # 7 contrast bands from 200 Hz need 12.8 kHz of bandwidth: the top band is null here.
    assert row["spectral_contrast_06_mean"] is None
    assert row["spectral_contrast_05_mean"] is not None
    assert all(row[f"chroma_cens_{i:02d}_mean"] is not None for i in range(12))
    assert row["f0_mean"] == pytest.approx(150, rel=0.05)
    assert 0.5 < row["voiced_fraction"] <= 1.0


def test_values_do_not_depend_on_the_batch_or_the_jobs(tmp_path: Path) -> None:
    """A file's row is bit-identical alone, beside a long file, and with any -j.

    Through the executable: each run is a fresh process, as a user's runs are (in this
    process, scipy.fft is imported already whatever the run).
    """
    import subprocess
    import sys

    import pyarrow.parquet as pq
    import soundfile as sf

    exe = str(Path(sys.executable).parent / "audiokit")
    rng = np.random.default_rng(7)
    short = tmp_path / "short.wav"
    sf.write(short, (0.2 * rng.standard_normal(22050)).astype(np.float32), 22050)
    long = tmp_path / "long.wav"  # over 2^20 samples and 4096 frames: scipy's FFT, 2 blocks
    t = np.arange(22050 * 100) / 22050
    y = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    sf.write(long, y.astype(np.float32), 22050)

    def rows(*args: str) -> dict[str, dict]:
        out = tmp_path / f"t{len(list(tmp_path.glob('t*.parquet')))}.parquet"
        feats = ["--features", "mfcc,spectral,rms"]
        subprocess.run([exe, "features", *args, *feats, "-o", str(out), "-q"], check=True)
        return {Path(r["path"]).name: r for r in pq.read_table(out).to_pylist()}

    alone = rows(str(short), "-j", "1")
    both = rows(str(short), str(long), "-j", "2")
    assert alone["short.wav"] == both["short.wav"]
    long_1 = rows(str(long), "-j", "1")
    long_2 = rows(str(long), "-j", "2")  # the file's blocks computed by two workers
    assert long_1["long.wav"] == long_2["long.wav"] == both["long.wav"]
