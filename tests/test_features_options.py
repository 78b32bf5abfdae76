"""The tutorials' spectral options and per-channel features, against librosa.

``--roll-percent`` (librosa's ``roll_percent``), ``--bandwidth-p`` (``p``), ``--n-chroma``
(``n_chroma``, with the tuning estimated on that many bins) and ``--per-channel`` (each
channel's features equal librosa's on that channel alone), in memory, streamed in blocks
and through the command line (tables read back, ``--update`` refusing other parameters).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import librosa
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

import audiokit.features as features_mod
from audiokit.errors import UsageError
from audiokit.features import FeatureParams, extract_channels, extract_file
from audiokit.features.schema import bandwidth_names, parse_floats, rolloff_names

SR = 22050
RTOL = 1e-4
ROOT = Path(__file__).resolve().parent.parent
CHORD = ROOT / "sample_data" / "music" / "chord.flac"


def _close(got: np.ndarray, ref: np.ndarray, what: str) -> None:
    over = np.abs(got - ref) / (RTOL * (np.abs(ref) + 1))
    assert over.max() <= 1, f"{what}: {over.max():.2f} x the tolerance"


def _load(path: Path, mono: bool = True) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, _ = librosa.load(path, sr=SR, mono=mono)
    return y


def _stereo(seconds: float = 6.0) -> np.ndarray:
    """Two different channels: a sharp tone on the left, noise and a chirp on the right."""
    rng = np.random.default_rng(7)
    t = np.arange(int(SR * seconds)) / SR
    left = 0.4 * np.sin(2 * np.pi * 446.0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t))
    right = 0.1 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def test_column_names_keep_librosas_defaults_plain() -> None:
    assert rolloff_names((0.85,)) == ["spectral_rolloff"]
    assert rolloff_names((0.1, 0.85)) == ["spectral_rolloff_10", "spectral_rolloff_85"]
    assert rolloff_names((0.995,)) == ["spectral_rolloff_99_5"]
    assert bandwidth_names((2.0,)) == ["spectral_bandwidth"]
    assert bandwidth_names((2.0, 3.0, 4.0)) == [
        "spectral_bandwidth_p2",
        "spectral_bandwidth_p3",
        "spectral_bandwidth_p4",
    ]


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"roll_percent": (0.0,)}, "--roll-percent 0.0"),
        ({"roll_percent": (1.0,)}, "--roll-percent 1.0"),
        ({"roll_percent": (0.5, 0.5)}, "twice"),
        ({"roll_percent": ()}, "at least one"),
        ({"bandwidth_p": (0.0,)}, "--bandwidth-p 0.0"),
        ({"bandwidth_p": (-2.0,)}, "--bandwidth-p -2.0"),
        ({"n_chroma": 0}, "--n-chroma 0"),
    ],
)
def test_bad_values_are_usage_errors(kw: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        FeatureParams(**kw)


def test_parse_floats_refuses_what_is_not_a_number() -> None:
    assert parse_floats("--roll-percent", "0.1, 0.85", (0.85,)) == (0.1, 0.85)
    assert parse_floats("--roll-percent", None, (0.85,)) == (0.85,)
    for bad in ("x", "nan", "inf", "0.1,,0.2"):
        with pytest.raises(UsageError, match="--roll-percent"):
            parse_floats("--roll-percent", bad, (0.85,))


@pytest.mark.parametrize("block_frames", [None, 40])
def test_rolloff_bandwidth_and_chroma_options_equal_librosa(block_frames: int | None) -> None:
    y = _load(CHORD)
    p = FeatureParams(
        groups=("spectral", "chroma"),
        roll_percent=(0.1, 0.85, 0.99),
        bandwidth_p=(2.0, 3.0, 4.0),
        n_chroma=24,
    )
    res = extract_file(CHORD, p, frames=True, block_frames=block_frames)
    assert res.n_frames > 2 * 40
    for r in p.roll_percent:
        ref = librosa.feature.spectral_rolloff(y=y, sr=SR, roll_percent=r)[0]
        _close(res.column(rolloff_names((r, 0.5))[0]), ref, f"rolloff {r}")
    for q in p.bandwidth_p:
        ref = librosa.feature.spectral_bandwidth(y=y, sr=SR, p=q)[0]
        _close(res.column(f"spectral_bandwidth_p{q:g}"), ref, f"bandwidth p={q}")
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_chroma=24)
    cols = [c for c in res.columns if c.startswith("chroma_")]
    assert len(cols) == 24
    _close(res.values[:, [res.columns.index(c) for c in cols]].T, chroma, "chroma 24")
    # the tuning was estimated on 24 bins, as chroma_stft(n_chroma=24) does: at A440 on
    # 24 bins (or with 12-bin tuning) the values differ
    a440 = librosa.feature.chroma_stft(y=y, sr=SR, n_chroma=24, tuning=0.0)
    assert np.abs(a440 - chroma).max() > 1e-3


def test_per_channel_features_equal_librosa_on_each_channel(tmp_path: Path) -> None:
    path = tmp_path / "st.wav"
    sf.write(path, _stereo(), SR, subtype="FLOAT")
    y = _load(path, mono=False)
    p = FeatureParams(groups=("mfcc", "spectral", "chroma", "rms"), mono=False)
    results = extract_channels(path, p, frames=True)
    assert [r.channel for r in results] == [0, 1]
    for c, res in enumerate(results):
        mfcc = librosa.feature.mfcc(y=y[c], sr=SR, n_mfcc=13)
        _close(res.values[:, :13].T, mfcc, f"mfcc channel {c}")
        ref = librosa.feature.spectral_centroid(y=y[c], sr=SR)[0]
        _close(res.column("spectral_centroid"), ref, f"centroid channel {c}")
        ref = librosa.feature.chroma_stft(y=y[c], sr=SR)
        idx = [res.columns.index(f"chroma_{i:02d}") for i in range(12)]
        _close(res.values[:, idx].T, ref, f"chroma channel {c}")
    # the channels really differ, and the mix is neither of them
    mix = extract_file(path, p, frames=True)
    assert mix.channel is None
    cen = [r.column("spectral_centroid").mean() for r in (*results, mix)]
    assert abs(cen[0] - cen[1]) > 100 and min(abs(cen[2] - cen[0]), abs(cen[2] - cen[1])) > 10


def test_per_channel_streamed_equals_in_memory(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "st.flac"
    sf.write(path, _stereo(8.0), SR, subtype="PCM_24")
    p = FeatureParams(groups=("mel", "chroma", "zcr"), mono=False)
    whole = extract_channels(path, p)
    monkeypatch.setattr(features_mod, "STREAM_SAMPLES", 20_000)
    streamed = extract_channels(path, p, block_frames=64)
    assert len(streamed) == 2
    for a, b in zip(whole, streamed, strict=True):
        assert a.channel == b.channel
        np.testing.assert_allclose(b.values, a.values, rtol=1e-4, atol=1e-4)
    assert np.abs(whole[0].values - whole[1].values).max() > 1


def test_a_mono_file_per_channel_is_channel_0() -> None:
    res = extract_channels(CHORD, FeatureParams(groups=("rms",), mono=False))
    assert len(res) == 1 and res[0].channel == 0
    np.testing.assert_array_equal(
        res[0].values, extract_file(CHORD, FeatureParams(groups=("rms",))).values
    )


def _ak(runner, *args):
    from audiokit.cli import cli

    return runner.invoke(cli, [str(a) for a in args])


def test_cli_per_channel_rows_and_update_refuses_other_parameters(runner, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    sf.write(d / "st.wav", _stereo(3.0), SR, subtype="FLOAT")
    sf.write(d / "mono.wav", _stereo(2.0)[:, 0], SR, subtype="FLOAT")
    out = tmp_path / "f.parquet"
    base = ("features", d, "-o", out, "-j", 1, "--features", "spectral")
    res = _ak(runner, *base, "--per-channel", "--roll-percent", "0.1,0.85", "--bandwidth-p", "3")
    assert res.exit_code == 0, res.stderr
    t = pq.read_table(out).to_pandas()
    assert list(t.columns[:4]) == ["path", "duration", "sample_rate", "channel"]
    rows = sorted(zip(t.path.map(lambda s: Path(s).name), t.channel, strict=True))
    assert rows == [("mono.wav", 0), ("st.wav", 0), ("st.wav", 1)]
    assert "spectral_rolloff_10_mean" in t and "spectral_bandwidth_p3_mean" in t
    assert "spectral_rolloff_mean" not in t and "spectral_bandwidth_mean" not in t
    y = _load(d / "st.wav", mono=False)
    for c in (0, 1):
        row = t[(t.path.str.endswith("st.wav")) & (t.channel == c)].iloc[0]
        ref = librosa.feature.spectral_rolloff(y=y[c], sr=SR, roll_percent=0.1).mean()
        assert row.spectral_rolloff_10_mean == pytest.approx(ref, rel=RTOL, abs=RTOL)
        ref = librosa.feature.spectral_bandwidth(y=y[c], sr=SR, p=3).mean()
        assert row.spectral_bandwidth_p3_mean == pytest.approx(ref, rel=RTOL, abs=RTOL)
    params = json.loads(pq.read_schema(out).metadata[b"audiokit.features.params"])
    assert params["mono"] is False and params["roll_percent"] == [0.1, 0.85]

    before = out.read_bytes()
    for other in (
        ("--roll-percent", "0.1,0.85", "--bandwidth-p", "3"),  # not per channel
        ("--per-channel", "--roll-percent", "0.2", "--bandwidth-p", "3"),
        ("--per-channel", "--roll-percent", "0.1,0.85", "--bandwidth-p", "3", "--n-chroma", 24),
    ):
        res = _ak(runner, *base, *other, "--update")
        assert res.exit_code == 2, (other, res.stderr)
        assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1
        assert out.read_bytes() == before
    same = ("--per-channel", "--roll-percent", "0.1,0.85", "--bandwidth-p", "3")
    assert _ak(runner, *base, *same, "--update").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [
        ("--roll-percent", "1.5"),
        ("--roll-percent", "abc"),
        ("--bandwidth-p", "0"),
        ("--n-chroma", "0"),
    ],
)
def test_cli_bad_option_values_are_one_line_exit_2(runner, args: tuple[str, ...]) -> None:
    res = _ak(runner, "features", CHORD, *args)
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and args[0] in lines[0], res.stderr


def test_list_columns_follows_the_options(runner) -> None:
    res = _ak(
        runner,
        "features",
        "--list-columns",
        "--features",
        "spectral,chroma",
        "--stats",
        "mean",
        "--roll-percent",
        "0.1,0.85",
        "--n-chroma",
        "36",
    )
    assert res.exit_code == 0
    cols = res.stdout.split()
    assert "spectral_rolloff_10_mean" in cols and "chroma_35_mean" in cols
    assert "chroma_36_mean" not in cols
