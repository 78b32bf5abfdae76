"""The default features equal librosa called the tutorials' way; ``frame_local`` its own.

Every default frame column against ``librosa.feature.mfcc(y=, sr=, n_mfcc=)``,
``chroma_stft(y=, sr=)`` (estimated tuning), ``spectral_*``, ``zero_crossing_rate``,
``rms``, ``power_to_db(melspectrogram(y=, sr=))`` (``top_db=80`` below the file's
maximum) and ``onset_strength(y=, sr=)``, within 1e-4 of |x| + 1: on the sample data,
on the real-recordings corpus, on a signal with digital silence (the 80 dB floor
engages) and on files cut into several blocks (the first pass gives the blocks the
file's maxima and tuning).
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

from audiokit.dsp import pitch
from audiokit.features import FeatureParams, extract, extract_file
from audiokit.features.blocks import ArraySource, file_refs
from audiokit.features.schema import frame_columns

SR = 22050
RTOL = 1e-4


def tutorial_frames(y: np.ndarray, sr: int = SR) -> np.ndarray:
    """The default frame columns as the tutorials compute them, shape (columns, frames)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty tuning set on silence
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
        rows = [
            mfcc,
            librosa.feature.delta(mfcc),
            librosa.feature.delta(mfcc, order=2),
            librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr)),
            librosa.feature.spectral_centroid(y=y, sr=sr),
            librosa.feature.spectral_bandwidth(y=y, sr=sr),
            librosa.feature.spectral_rolloff(y=y, sr=sr),
            librosa.feature.spectral_contrast(y=y, sr=sr),
            librosa.feature.spectral_flatness(y=y),
            librosa.feature.zero_crossing_rate(y),
            librosa.feature.rms(y=y),
            librosa.feature.chroma_stft(y=y, sr=sr),
            librosa.onset.onset_strength(y=y, sr=sr)[None],
        ]
    return np.vstack(rows)


def assert_tutorial(res_values: np.ndarray, ref: np.ndarray, columns: list[str]) -> None:
    """Frame values (frames, columns) within RTOL of |ref| + 1, naming the worst column.

    Deltas are also allowed 2 float32 ulps of the coefficient they derive from: librosa
    filters float32 MFCC (scipy's savgol_filter in float32), so its delta of a steady
    ``mfcc_00`` near -1100 (silence) is itself rounding noise of ~1.2e-4.
    """
    got = res_values.T
    assert got.shape == ref.shape
    allow = RTOL * (np.abs(ref) + 1)
    for i, name in enumerate(columns):
        if name.startswith("mfcc_delta"):
            source = ref[columns.index("mfcc_" + name.rsplit("_", 1)[1])]
            allow[i] += 2 * np.spacing(np.abs(source).astype(np.float32))
    over = np.abs(got - ref) / allow
    worst = int(np.argmax(over.max(axis=1)))
    assert over.max() <= 1, f"{columns[worst]}: {over.max():.2f} x the tolerance"


def _load(path: Path) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y, _ = librosa.load(path, sr=SR, mono=True)
    return y


def _silence_then_tone(seconds: float = 12.0) -> np.ndarray:
    """3 s of digital silence, then a slightly sharp tone over noise (tuning != 0)."""
    rng = np.random.default_rng(3)
    t = np.arange(int(SR * seconds)) / SR
    y = 0.3 * np.sin(2 * np.pi * 446.0 * t) + 0.2 * np.sin(2 * np.pi * 669.0 * t)
    y = y * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) + 0.003 * rng.standard_normal(len(t))
    y[: 3 * SR] = 0.0
    return y.astype(np.float32)


SAMPLES = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "sample_data").rglob("*")
    if p.suffix in (".wav", ".flac", ".ogg")
)


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name)
def test_defaults_equal_the_tutorial_on_sample_data(path: Path) -> None:
    y = _load(path)
    res = extract(y, SR, frames=True)
    assert_tutorial(res.values, tutorial_frames(y), res.columns)


def test_defaults_equal_the_tutorial_on_the_corpus(corpus_dir: Path) -> None:
    paths = sorted(p for p in corpus_dir.rglob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    assert paths
    for path in paths:
        y = _load(path)
        res = extract(y, SR, frames=True)
        assert_tutorial(res.values, tutorial_frames(y), res.columns)


def test_digital_silence_engages_the_80_db_floor() -> None:
    y = _silence_then_tone()
    res = extract(y, SR, frames=True)
    ref = tutorial_frames(y)
    assert_tutorial(res.values, ref, res.columns)
    mel = res.column("mel_000")
    assert mel.min() > -100.0 + 1  # the old fixed floor would give -100 dB in the silence
    np.testing.assert_allclose(mel[:50], ref[res.columns.index("mel_000"), :50], rtol=1e-5)
    # frame-local: the fixed -100 dB floor and A440
    local = extract(y, SR, frames=True, frame_local=True)
    assert local.column("mel_000").min() == pytest.approx(-100.0)


@pytest.mark.parametrize("block_frames", [97, 256])
def test_a_file_of_several_blocks_equals_the_tutorial(block_frames: int) -> None:
    y = _silence_then_tone()
    ref = tutorial_frames(y)
    res = extract(y, SR, frames=True, block_frames=block_frames)
    assert res.n_frames > 2 * block_frames
    assert_tutorial(res.values, ref, res.columns)
    whole = extract(y, SR, frames=True)
    np.testing.assert_allclose(res.values, whole.values, rtol=1e-4, atol=1e-4)


def test_summaries_and_segments_of_blocks_equal_the_whole_file() -> None:
    y = _silence_then_tone()
    ref = tutorial_frames(y)
    summary = extract(y, SR, block_frames=100)
    means = {c: summary.column(f"{c}_mean")[0] for c in frame_columns(FeatureParams())}
    np.testing.assert_allclose(
        np.array(list(means.values())), ref.mean(axis=1), rtol=RTOL, atol=RTOL
    )
    segs = extract(y, SR, window=4.0, block_frames=100)
    np.testing.assert_allclose(segs.values, extract(y, SR, window=4.0).values, rtol=1e-5, atol=1e-4)


def test_streamed_file_equals_the_tutorial(tmp_path: Path) -> None:
    y = _silence_then_tone()
    path = tmp_path / "long.flac"
    sf.write(path, y, SR, subtype="PCM_24")
    yq = _load(path)
    res = extract_file(path, frames=True, block_frames=150, jobs=2)
    assert_tutorial(res.values, tutorial_frames(yq), res.columns)


def test_first_pass_finds_the_files_tuning_and_maxima() -> None:
    y = _silence_then_tone()
    refs = file_refs(ArraySource(y), SR, FeatureParams(), block_frames=64)
    assert refs is not None
    P = np.abs(librosa.stft(y)) ** 2
    assert refs.tuning == pytest.approx(librosa.estimate_tuning(S=P, sr=SR))
    assert refs.tuning != 0.0
    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=None)
    assert refs.mel_db_max == pytest.approx(float(mel.max()), abs=1e-4)
    assert file_refs(ArraySource(y), SR, FeatureParams(frame_local=True)) is None
    assert file_refs(ArraySource(y), SR, FeatureParams(groups=("zcr", "rms"))) is None


def test_frame_local_blocks_equal_its_whole_file_computation() -> None:
    y = _silence_then_tone()
    whole = extract(y, SR, frames=True, frame_local=True)
    blocked = extract(y, SR, frames=True, frame_local=True, block_frames=97)
    np.testing.assert_allclose(blocked.values, whole.values, rtol=1e-4, atol=1e-4)
    # and its values are librosa's with top_db=None and A440
    P = np.abs(librosa.stft(y)) ** 2
    mel = librosa.power_to_db(librosa.feature.melspectrogram(S=P, sr=SR), top_db=None)
    np.testing.assert_allclose(
        np.stack([whole.column(f"mel_{i:03d}") for i in range(128)]), mel, rtol=1e-4, atol=1e-3
    )
    chroma = librosa.feature.chroma_stft(S=P, sr=SR, tuning=0.0)
    np.testing.assert_allclose(
        np.stack([whole.column(f"chroma_{i:02d}") for i in range(12)]), chroma, atol=1e-4
    )
    # a stretch analysed as a file of its own has the same frames (away from its edges,
    # whose windows see its zero padding) as inside the whole file
    k0, k1 = 300, 420
    alone = extract(
        y[k0 * 512 : k1 * 512], SR, "mel,spectral,chroma", frames=True, frame_local=True
    )
    inner = slice(4, -4)
    cols = [whole.columns.index(c) for c in alone.columns]
    np.testing.assert_allclose(
        alone.values[inner], whole.values[k0 : k0 + alone.values.shape[0]][inner][:, cols],
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip


# --------------------------------------------------------------------------- dsp.pitch


@pytest.mark.parametrize("path", SAMPLES[:6], ids=lambda p: p.name)
def test_pitch_ports_equal_librosa(path: Path) -> None:
    y = _load(path)
    P = np.abs(librosa.stft(y)) ** 2
    pitches, mags = pitch.piptrack(S=P, sr=SR)
    ref_p, ref_m = librosa.piptrack(S=P, sr=SR)
    np.testing.assert_array_equal(pitches > 0, ref_p > 0)
    np.testing.assert_allclose(pitches, ref_p, rtol=1e-5)
    np.testing.assert_allclose(mags, ref_m, rtol=1e-4, atol=1e-6 * float(P.max()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pitch.estimate_tuning(S=P, sr=SR) == pytest.approx(
            librosa.estimate_tuning(S=P, sr=SR)
        )
    freqs = ref_p[ref_p > 0]
    if freqs.size:
        assert pitch.pitch_tuning(freqs) == pytest.approx(librosa.pitch_tuning(freqs))


def test_tuning_estimate_in_runs_equals_all_frames_at_once() -> None:
    y = _silence_then_tone()
    P = np.abs(librosa.stft(y)) ** 2
    est = pitch.TuningEstimate(sr=SR)
    for i in range(0, P.shape[1], 37):
        est.add(S=P[:, i : i + 37])
    assert est.result() == pitch.estimate_tuning(S=P, sr=SR) != 0.0
    assert est.nbytes < 5 * int((P > 0).sum())


# --------------------------------------------------------------------------- the CLI


def _ak(runner, *args):
    from audiokit.cli import cli

    return runner.invoke(cli, [str(a) for a in args])


def test_metadata_records_the_variant_and_update_refuses_mixing(runner, tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    sf.write(d / "a.wav", _silence_then_tone(4.0), SR)
    out = tmp_path / "f.parquet"
    args = ("features", d, "-o", out, "--features", "mel,chroma", "-j", 1)
    res = _ak(runner, *args)
    assert res.exit_code == 0, res.stderr
    meta = pq.read_schema(out).metadata
    params = json.loads(meta[b"audiokit.features.params"])
    assert params["frame_local"] is False
    consts = json.loads(meta[b"audiokit.features.constants"])
    assert consts["db"]["top_db"] == 80.0 and consts["chroma"]["tuning"] == "estimated"
    before = out.read_bytes()
    res = _ak(runner, *args, "--frame-local", "--update")
    assert res.exit_code == 2
    assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1
    assert str(out) in res.stderr
    assert out.read_bytes() == before
    assert _ak(runner, *args, "--update").exit_code == 0  # same variant: fine

    local = tmp_path / "g.parquet"
    res = _ak(runner, "features", d, "-o", local, "--features", "mel", "--frame-local", "-j", 1)
    assert res.exit_code == 0, res.stderr
    params = json.loads(pq.read_schema(local).metadata[b"audiokit.features.params"])
    assert params["frame_local"] is True
    assert _ak(runner, "features", d, "-o", local, "--features", "mel", "--update").exit_code == 2


def test_parameters_stored_before_the_option_were_frame_local() -> None:
    p = FeatureParams.from_dict({"n_mfcc": 13})
    assert p.frame_local is True
    assert FeatureParams.from_dict(json.loads(FeatureParams().to_json())).frame_local is False
