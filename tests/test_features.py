"""audiokit.features: every feature against librosa's own function with the same parameters."""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pytest

from audiokit.features import FeatureResult, extract
from audiokit.features.schema import expand
from tests.conftest import sine

SR = 22050


def _signal(seconds: float = 3.0, seed: int = 0) -> np.ndarray:
    """Tones, a chirp and noise: every feature has something to measure (< 80 dB range)."""
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    t = np.arange(n) / SR
    y = 0.3 * np.sin(2 * np.pi * 440 * t) * (t % 0.5 < 0.25)
    y += 0.2 * np.sin(2 * np.pi * (200 + 600 * t) * t)
    y += 0.02 * rng.standard_normal(n)
    return y.astype(np.float32)


def feat(res: FeatureResult, name: str, dims: int) -> np.ndarray:
    """A frame-level feature as librosa shapes it: (dims, frames)."""
    return np.stack([res.column(c) for c in expand(name, dims)])


@pytest.fixture(scope="module")
def y() -> np.ndarray:
    return _signal()


@pytest.fixture(scope="module")
def frames(y: np.ndarray) -> FeatureResult:
    return extract(y, SR, "all", frames=True)


@pytest.fixture(scope="module")
def mel_db(y: np.ndarray) -> np.ndarray:
    return librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=None)


def test_frame_grid(y: np.ndarray, frames: FeatureResult) -> None:
    n = 1 + len(y) // 512
    assert frames.values.shape[0] == n == frames.n_frames
    assert frames.values.dtype == np.float32
    np.testing.assert_allclose(frames.start, np.arange(n) * 512 / SR)


def test_mfcc_and_deltas(frames: FeatureResult, mel_db: np.ndarray) -> None:
    ref = librosa.feature.mfcc(S=mel_db, n_mfcc=13)
    np.testing.assert_allclose(feat(frames, "mfcc", 13), ref, rtol=1e-4, atol=2e-3)
    for order, name in ((1, "mfcc_delta"), (2, "mfcc_delta2")):
        np.testing.assert_allclose(
            feat(frames, name, 13), librosa.feature.delta(ref, order=order), rtol=1e-4, atol=2e-3
        )


def test_mel_db(frames: FeatureResult, mel_db: np.ndarray) -> None:
    np.testing.assert_allclose(feat(frames, "mel", 128), mel_db, rtol=1e-4, atol=1e-3)


def test_spectral_shape(y: np.ndarray, frames: FeatureResult) -> None:
    f = librosa.feature
    for name, ref in (
        ("spectral_centroid", f.spectral_centroid(y=y, sr=SR)),
        ("spectral_bandwidth", f.spectral_bandwidth(y=y, sr=SR)),
        ("spectral_rolloff", f.spectral_rolloff(y=y, sr=SR)),
        ("spectral_flatness", f.spectral_flatness(y=y)),
    ):
        np.testing.assert_allclose(feat(frames, name, 1), ref, rtol=1e-4, atol=1e-6, err_msg=name)
    # The signal's range is under 80 dB, so librosa's relative floor does not bite.
    np.testing.assert_allclose(
        feat(frames, "spectral_contrast", 7), f.spectral_contrast(y=y, sr=SR), rtol=1e-4, atol=1e-3
    )


def test_zcr_rms_chroma_onset(y: np.ndarray, frames: FeatureResult, mel_db: np.ndarray) -> None:
    f = librosa.feature
    np.testing.assert_allclose(feat(frames, "zcr", 1), f.zero_crossing_rate(y), atol=1e-7)
    np.testing.assert_allclose(feat(frames, "rms", 1), f.rms(y=y), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(
        feat(frames, "chroma", 12), f.chroma_stft(y=y, sr=SR), rtol=1e-4, atol=1e-5
    )  # the default: the signal's estimated tuning, as chroma_stft(y=) (A440: frame_local)
    np.testing.assert_allclose(
        feat(frames, "onset_strength", 1)[0],
        librosa.onset.onset_strength(S=mel_db, sr=SR),
        rtol=1e-4,
        atol=1e-4,
    )
    # onset_strength(y=...) only differs by its 80 dB floor, which this signal never reaches.
    np.testing.assert_allclose(
        feat(frames, "onset_strength", 1)[0],
        librosa.onset.onset_strength(y=y, sr=SR),
        rtol=1e-3,
        atol=1e-3,
    )


def test_cqt_groups(y: np.ndarray, frames: FeatureResult) -> None:
    f = librosa.feature
    np.testing.assert_allclose(
        feat(frames, "chroma_cens", 12), f.chroma_cens(y=y, sr=SR, tuning=0.0), atol=1e-4
    )
    chroma = f.chroma_cqt(y=y, sr=SR, tuning=0.0)
    np.testing.assert_allclose(
        feat(frames, "tonnetz", 6), f.tonnetz(sr=SR, chroma=chroma), atol=1e-4
    )


def test_f0(frames: FeatureResult, y: np.ndarray) -> None:
    f0, _, prob = librosa.pyin(
        y, fmin=65.40639132514966, fmax=2093.004522404789, sr=SR, frame_length=2048, hop_length=512
    )
    ours = feat(frames, "f0", 1)[0]
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(f0))
    np.testing.assert_allclose(ours, f0, rtol=1e-4)
    np.testing.assert_allclose(feat(frames, "voiced_prob", 1)[0], prob, atol=1e-4)


def test_hpss_ratio(y: np.ndarray) -> None:
    res = extract(y, SR, "hpss")
    H, P = librosa.decompose.hpss(np.abs(librosa.stft(y)))
    h, p = float((H**2).sum()), float((P**2).sum())
    assert res.columns == ["hpss_ratio"]
    assert res.values[0, 0] == pytest.approx(h / (h + p), rel=1e-4)


def test_tempo_and_beats_match_beat_track(sample_dir) -> None:
    y, sr = librosa.load(sample_dir / "music" / "melody.ogg", sr=SR)
    res = extract(y, sr, "tempo,onset")
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
    assert res.column("tempo")[0] == pytest.approx(float(np.atleast_1d(tempo)[0]), rel=1e-4)
    assert res.column("tempo")[0] == pytest.approx(117.5, abs=0.5)
    assert res.column("beat_count")[0] == len(beats)


def test_tempo_equals_librosa_on_our_envelope(y: np.ndarray) -> None:
    from audiokit.dsp import onset

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=SR), top_db=None)
    env = onset.onset_strength(S=mel, aggregate=np.median)
    np.testing.assert_allclose(
        env, librosa.onset.onset_strength(S=mel, aggregate=np.median), rtol=1e-5, atol=1e-5
    )
    res = extract(y, SR, "tempo")
    ref_tempo = librosa.feature.tempo(onset_envelope=env, sr=SR)[0]
    _, ref_beats = librosa.beat.beat_track(onset_envelope=env, sr=SR)
    assert res.column("tempo")[0] == pytest.approx(ref_tempo, rel=1e-6)
    assert res.column("beat_count")[0] == len(ref_beats)


def test_summary_statistics_equal_numpy(y: np.ndarray, frames: FeatureResult) -> None:
    res = extract(y, SR, "mfcc,spectral,rms", stats="mean,std,min,max,median,p10,p90")
    for col in ("mfcc_03", "spectral_centroid", "rms", "spectral_contrast_02"):
        v = frames.column(col).astype(np.float64)
        expect = {
            "mean": v.mean(),
            "std": v.std(),
            "min": v.min(),
            "max": v.max(),
            "median": np.median(v),
            "p10": np.percentile(v, 10),
            "p90": np.percentile(v, 90),
        }
        for stat, value in expect.items():
            got = res.column(f"{col}_{stat}")[0]
            assert got == pytest.approx(value, rel=1e-4, abs=1e-5), f"{col}_{stat}"


@pytest.mark.parametrize("groups", ["default", "all"])
def test_blocks_equal_whole_file(y: np.ndarray, frames: FeatureResult, groups: str) -> None:
    whole = frames if groups == "all" else extract(y, SR, groups, frames=True)
    blocked = extract(y, SR, groups, frames=True, block_frames=23)
    assert blocked.columns == whole.columns
    np.testing.assert_allclose(blocked.values, whole.values, rtol=1e-4, atol=1e-4)
    s_whole = extract(y, SR, groups, stats="mean,std,min,max,median")
    s_block = extract(y, SR, groups, stats="mean,std,min,max,median", block_frames=23)
    np.testing.assert_allclose(s_block.values, s_whole.values, rtol=1e-4, atol=1e-4)


def test_windows(y: np.ndarray) -> None:
    fr = extract(y, SR, "rms,zcr", frames=True)
    res = extract(y, SR, "rms,zcr", window=1.0, window_hop=0.5, stats="mean,max")
    assert res.kind == "windows"
    np.testing.assert_allclose(res.start, [0, 0.5, 1.0, 1.5, 2.0, 2.5])
    np.testing.assert_allclose(res.end, [1, 1.5, 2.0, 2.5, 3.0, 3.0])
    t = fr.start
    for i, (a, b) in enumerate(zip(res.start, res.end, strict=True)):
        sel = (t >= a) & ((t < b) if b < 3.0 else True)
        assert res.column("rms_mean")[i] == pytest.approx(fr.column("rms")[sel].mean(), rel=1e-5)
        assert res.column("zcr_max")[i] == pytest.approx(fr.column("zcr")[sel].max(), rel=1e-6)
    blocked = extract(
        y, SR, "rms,zcr", window=1.0, window_hop=0.5, stats="mean,max", block_frames=10
    )
    np.testing.assert_allclose(blocked.values, res.values, rtol=1e-5)


@pytest.mark.parametrize(("seconds", "width"), [(0.01, 0), (0.05, 3), (0.1, 5), (0.2, 9)])
def test_short_clips_shrink_the_delta_window(seconds: float, width: int) -> None:
    y = sine(440, SR, seconds) + 0.01 * np.random.default_rng(1).standard_normal(
        int(round(SR * seconds))
    ).astype(np.float32)
    res = extract(y, SR, "all", frames=True)
    n = 1 + len(y) // 512
    assert res.values.shape[0] == n
    d = feat(res, "mfcc_delta", 13)
    if width == 0:
        assert np.isnan(d).all()
    else:
        mfcc = feat(res, "mfcc", 13)
        np.testing.assert_allclose(d, librosa.feature.delta(mfcc, width=width), atol=1e-3)
    others = [c for c in res.columns if not c.startswith(("mfcc_delta", "f0"))]
    assert np.isfinite(np.stack([res.column(c) for c in others])).all()
    summary = extract(y, SR, "all")
    assert summary.values.shape == (1, len(summary.columns))


def test_silence_is_finite() -> None:
    res = extract(np.zeros(SR, np.float32), SR, "all")
    vals = dict(zip(res.columns, res.values[0], strict=True))
    bad = [c for c, v in vals.items() if not np.isfinite(v) and not c.startswith("f0_")]
    assert bad == []
    assert vals["beat_count"] == 0 and vals["rms_max"] == 0 and vals["voiced_fraction"] == 0
    assert vals["mel_000_mean"] == pytest.approx(-100.0)
    assert vals["spectral_flatness_mean"] == pytest.approx(1.0)


def test_columns_do_not_depend_on_the_input() -> None:
    a = extract(np.zeros(300, np.float32), SR)
    b = extract(_signal(1.0), SR)
    assert a.columns == b.columns
    assert "tempo" in a.columns and "mfcc_00_mean" in a.columns and "mel_127_std" in a.columns


def test_stereo_is_mixed_to_mono() -> None:
    left, right = sine(330, SR, 0.5, 0.8), sine(660, SR, 0.5, 0.25)
    res = extract(np.stack([left, right]), SR, "rms", frames=True)
    ref = extract((left + right) / 2, SR, "rms", frames=True)
    np.testing.assert_allclose(res.values, ref.values, rtol=1e-6)


def test_stream_source_equals_loading(tmp_path, monkeypatch, write_audio) -> None:
    import audiokit.features as feats
    from audiokit.features import FeatureParams, extract_file

    path = write_audio("long.wav", _signal(4.0, seed=3), 44100)
    p = FeatureParams(stats=("mean", "std", "min", "max", "median"))
    loaded = extract_file(path, p)
    monkeypatch.setattr(feats, "STREAM_SAMPLES", 1000)
    streamed = extract_file(path, p, block_frames=40)
    np.testing.assert_allclose(streamed.values, loaded.values, rtol=1e-4, atol=1e-4)


def test_real_recordings(corpus_dir) -> None:
    from audiokit.features import FeatureParams, extract_file

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clip = corpus_dir / "fsdd" / "0_george_0.wav"
        res = extract_file(clip, FeatureParams(groups=("mfcc", "spectral", "zcr")), frames=True)
        y, sr = librosa.load(clip, sr=SR)
        np.testing.assert_allclose(  # librosa's default: 80 dB below the file's maximum
            feat(res, "mfcc", 13), librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13), rtol=1e-3, atol=1e-2
        )
        np.testing.assert_allclose(
            feat(res, "spectral_centroid", 1),
            librosa.feature.spectral_centroid(y=y, sr=sr),
            rtol=1e-3,
        )
        np.testing.assert_allclose(
            feat(res, "zcr", 1), librosa.feature.zero_crossing_rate(y), atol=1e-6
        )
        trumpet = corpus_dir / "librosa" / "trumpet.ogg"
        res = extract_file(trumpet, FeatureParams(groups=("chroma", "rms", "tempo")), frames=True)
        y, sr = librosa.load(trumpet, sr=SR)
        np.testing.assert_allclose(
            feat(res, "chroma", 12),
            librosa.feature.chroma_stft(y=y, sr=sr),
            rtol=1e-3,
            atol=1e-4,
        )
        np.testing.assert_allclose(
            feat(res, "rms", 1), librosa.feature.rms(y=y), rtol=1e-4, atol=1e-6
        )


def test_parallel_blocks_equal_serial(y: np.ndarray) -> None:
    serial = extract(y, SR, "default", block_frames=30)
    parallel = extract(y, SR, "default", block_frames=30, jobs=2)
    np.testing.assert_allclose(parallel.values, serial.values, rtol=1e-5, atol=1e-5)


def test_percentiles_spilled_to_disk_equal_in_memory(y: np.ndarray, monkeypatch) -> None:
    from audiokit.features import stats

    ref = extract(y, SR, "mfcc,rms", stats="median,p5,p95", block_frames=20)
    monkeypatch.setattr(stats, "MEMORY_BUDGET", 0)
    spilled = extract(y, SR, "mfcc,rms", stats="median,p5,p95", block_frames=20)
    np.testing.assert_array_equal(spilled.values, ref.values)
