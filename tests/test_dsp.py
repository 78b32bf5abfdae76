"""Each port of :mod:`audiokit.dsp` against the librosa (or scipy) function it mirrors.

Every port is called with the same keyword arguments as its librosa function (the ports
take librosa's names: a call of a port is a valid librosa call), on chirps, noise with
digital silence and sub-threshold samples, and real speech and music, at several
sample rates, FFT sizes and hops. librosa is pinned to the minor version the ports
mirror (pyproject.toml): an upgrade re-runs these.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pytest
import scipy.fft
import scipy.signal

from audiokit.dsp import beat, feature, fft, filters, onset, spectrum, util

#: (sr, n_fft, hop_length, n_mels, fmin, fmax)
CONFIGS = [
    (22050, 2048, 512, 128, 0.0, None),
    (16000, 512, 160, 40, 20.0, 7600.0),
    (8000, 1024, 256, 64, 0.0, None),
    (44100, 4096, 1024, 96, 50.0, 16000.0),
]
CONFIG_IDS = [f"{c[0]}-{c[1]}-{c[2]}" for c in CONFIGS]


def chirp(sr: int, seconds: float = 2.0) -> np.ndarray:
    """A log chirp from 60 Hz to 0.4 sr with an amplitude ramp."""
    t = np.arange(int(sr * seconds)) / sr
    y = scipy.signal.chirp(t, 60.0, t[-1], 0.4 * sr, method="logarithmic")
    return (0.8 * np.linspace(0.1, 1.0, t.size) * y).astype(np.float32)


def noise(sr: int, seconds: float = 1.5) -> np.ndarray:
    """White noise with a stretch of digital silence and one of sub-threshold values."""
    y = (0.1 * np.random.default_rng(sr).standard_normal(int(sr * seconds))).astype(np.float32)
    y[1000:3000] = 0
    y[4000:4100] = 1e-11
    return y


@pytest.fixture(scope="module")
def recordings(sample_dir: Path) -> list[tuple[np.ndarray, int]]:
    """Speech and music at their own rates."""
    out = []
    for name in ("speech/hello.wav", "music/melody.ogg", "speech/with_pauses.flac"):
        y, sr = librosa.load(sample_dir / name, sr=None)
        out.append((y, int(sr)))
    return out


def signals(sr: int) -> list[np.ndarray]:
    return [chirp(sr), noise(sr)]


# --------------------------------------------------------------------------- fft


def test_next_fast_len_matches_scipy() -> None:
    for n in [*range(1, 2000), 4097, 12345, 99991]:
        assert fft.next_fast_len(n) == scipy.fft.next_fast_len(n, real=True), n


@pytest.mark.parametrize("frames", [3, 4100])  # below and above the scipy threshold
def test_rfft_backend_by_size_and_both_equal_the_transform(frames: int) -> None:
    x = np.random.default_rng(1).standard_normal((frames, 1024)).astype(np.float32)
    assert fft.uses_scipy(x) == (x.size >= fft.SCIPY_FFT_MIN_SIZE) == (frames == 4100)
    spec = fft.rfft(x, axis=-1)
    assert spec.dtype == np.complex64
    want = (scipy.fft if frames == 4100 else np.fft).rfft(x, axis=-1)
    np.testing.assert_array_equal(spec, want)  # exactly the chosen backend
    np.testing.assert_allclose(spec, np.fft.rfft(x.astype(np.float64), axis=-1), atol=2e-3)
    np.testing.assert_allclose(fft.irfft(spec, n=1024, axis=-1), x, atol=1e-5)


# --------------------------------------------------------------------------- spectrum


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "boxcar"])
def test_get_window_is_scipy_periodic_window(window: str) -> None:
    for n in (512, 1024, 2047):
        np.testing.assert_allclose(
            spectrum.get_window(window, n),
            scipy.signal.get_window(window, n, fftbins=True),
            atol=1e-7,
        )


@pytest.mark.parametrize(("sr", "n_fft", "hop", "n_mels", "fmin", "fmax"), CONFIGS, ids=CONFIG_IDS)
def test_stft_equals_librosa(sr, n_fft, hop, n_mels, fmin, fmax) -> None:
    for y in signals(sr):
        for window in ("hann", "hamming"):
            kw = {"y": y, "n_fft": n_fft, "hop_length": hop, "window": window}
            ours, ref = spectrum.stft(**kw), librosa.stft(**kw)
            assert ours.shape == ref.shape and ours.dtype == ref.dtype
            np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6 * np.abs(ref).max())
    lanes = np.stack(signals(sr)[:1] * 2)  # (2, n), not centred
    kw = {"y": lanes, "n_fft": n_fft, "hop_length": hop, "center": False}
    ours, ref = spectrum.stft(**kw), librosa.stft(**kw)
    assert ours.shape == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-6 * np.abs(ref).max())


def test_power_and_amplitude_to_db_equal_librosa(recordings) -> None:
    for y, _ in recordings:
        S = np.abs(librosa.stft(y))
        P = S**2
        for kw in (
            {},
            {"ref": np.max},
            {"ref": np.max, "top_db": None},
            {"ref": 0.5, "amin": 1e-6, "top_db": 60.0},
        ):
            ours = spectrum.power_to_db(S=P, **kw)
            assert ours.dtype == np.float32
            np.testing.assert_array_equal(ours, librosa.power_to_db(S=P, **kw))
            np.testing.assert_array_equal(
                spectrum.amplitude_to_db(S=S, **kw), librosa.amplitude_to_db(S=S, **kw)
            )
    p64 = np.abs(np.random.default_rng(2).standard_normal(1000))
    np.testing.assert_array_equal(
        spectrum.power_to_db(S=p64, amin=1e-20, top_db=None),
        librosa.power_to_db(S=p64, amin=1e-20, top_db=None),
    )


# --------------------------------------------------------------------------- filters


@pytest.mark.parametrize(("sr", "n_fft", "hop", "n_mels", "fmin", "fmax"), CONFIGS, ids=CONFIG_IDS)
def test_filterbanks_equal_librosa(sr, n_fft, hop, n_mels, fmin, fmax) -> None:
    kw = {"sr": sr, "n_fft": n_fft, "n_mels": n_mels, "fmin": fmin, "fmax": fmax}
    np.testing.assert_array_equal(filters.mel(**kw), librosa.filters.mel(**kw))
    for tuning in (0.0, 0.3, -0.25):
        np.testing.assert_array_equal(
            filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning),
            librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning),
        )
    np.testing.assert_array_equal(
        filters.fft_frequencies(sr=sr, n_fft=n_fft), librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    )
    fmax_hz = sr / 2 if fmax is None else fmax
    np.testing.assert_allclose(
        filters.mel_frequencies(n_mels, fmin=fmin, fmax=fmax_hz),
        librosa.mel_frequencies(n_mels, fmin=fmin, fmax=fmax_hz),
        rtol=1e-12,
    )


def test_mel_scale_conversions_equal_librosa() -> None:
    hz = np.array([0.0, 20.0, 440.0, 999.9, 1000.0, 1000.1, 4000.0, 22050.0])
    np.testing.assert_allclose(filters.hz_to_mel(hz), librosa.hz_to_mel(hz), rtol=1e-12)
    mels = np.linspace(0, 60, 121)
    np.testing.assert_allclose(filters.mel_to_hz(mels), librosa.mel_to_hz(mels), rtol=1e-12)
    assert float(filters.hz_to_mel(440.0)) == pytest.approx(librosa.hz_to_mel(440.0), rel=1e-12)


def test_dct_is_scipy_orthonormal_dct() -> None:
    x = np.random.default_rng(0).standard_normal((128, 40))
    np.testing.assert_allclose(
        filters.dct(20, 128) @ x, scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:20], atol=1e-12
    )


# --------------------------------------------------------------------------- feature


@pytest.mark.parametrize(("sr", "n_fft", "hop", "n_mels", "fmin", "fmax"), CONFIGS, ids=CONFIG_IDS)
def test_rms_and_zero_crossing_rate_equal_librosa(sr, n_fft, hop, n_mels, fmin, fmax) -> None:
    for y in signals(sr):
        kw = {"y": y, "frame_length": n_fft, "hop_length": hop}
        ref = librosa.feature.rms(**kw)
        assert feature.rms(**kw).shape == ref.shape
        np.testing.assert_allclose(feature.rms(**kw), ref, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(
            feature.zero_crossing_rate(**kw), librosa.feature.zero_crossing_rate(**kw)
        )


@pytest.mark.parametrize(("sr", "n_fft", "hop", "n_mels", "fmin", "fmax"), CONFIGS, ids=CONFIG_IDS)
def test_melspectrogram_and_mfcc_equal_librosa(sr, n_fft, hop, n_mels, fmin, fmax) -> None:
    mel_kw = {"sr": sr, "n_fft": n_fft, "n_mels": n_mels, "fmin": fmin, "fmax": fmax}
    for y in signals(sr):
        P = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
        ours = feature.melspectrogram(S=P, **mel_kw)
        np.testing.assert_array_equal(ours, librosa.feature.melspectrogram(S=P, **mel_kw))
        from_y = {"y": y, "hop_length": hop, **mel_kw}
        ref = librosa.feature.melspectrogram(**from_y)
        np.testing.assert_allclose(feature.melspectrogram(**from_y), ref, rtol=1e-4, atol=1e-6)
        S_db = librosa.power_to_db(ours, top_db=None)
        ref = librosa.feature.mfcc(S=S_db, n_mfcc=13)
        np.testing.assert_allclose(
            feature.mfcc(S=S_db, n_mfcc=13), ref, rtol=0, atol=1e-5 * np.abs(ref).max()
        )
        ref = librosa.feature.mfcc(n_mfcc=20, **from_y)
        ours = feature.mfcc(n_mfcc=20, **from_y)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=2e-4 * np.abs(ref).max())


def test_delta_equals_librosa() -> None:
    x = np.random.default_rng(5).standard_normal((13, 40)).astype(np.float32)
    x[:, 20:] = np.cumsum(x[:, 20:], axis=1)  # smooth and rough stretches
    for width in (3, 5, 7, 9):
        for order in (1, 2):
            kw = {"data": x, "width": width, "order": order}
            np.testing.assert_allclose(
                feature.delta(**kw), librosa.feature.delta(**kw), rtol=1e-5, atol=1e-5
            )
    with pytest.raises(ValueError):
        feature.delta(data=x[:, :5], width=9)


def test_spectral_shape_equals_librosa(recordings) -> None:
    cases = [(y, sr, 2048, 512) for y, sr in recordings]
    cases += [(chirp(16000), 16000, 512, 160), (noise(22050), 22050, 1024, 256)]
    for y, sr, n_fft, hop in cases:
        S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
        kw = {"S": S, "sr": sr, "n_fft": n_fft}
        f = librosa.feature
        centroid = feature.spectral_centroid(**kw)
        np.testing.assert_allclose(centroid, f.spectral_centroid(**kw), rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(
            feature.spectral_bandwidth(**kw), f.spectral_bandwidth(**kw), rtol=1e-5, atol=1e-3
        )
        both = feature.centroid_and_bandwidth(**kw)
        np.testing.assert_array_equal(both[0], centroid)
        np.testing.assert_array_equal(both[1], feature.spectral_bandwidth(**kw))
        # rolloff is a threshold crossing: float32 cumulative sums may move it by one bin, rarely
        off = feature.spectral_rolloff(**kw) - f.spectral_rolloff(**kw)
        assert np.abs(off).max() <= sr / n_fft + 1e-6 and np.mean(off != 0) < 0.01
        np.testing.assert_allclose(
            feature.spectral_flatness(S=S), f.spectral_flatness(S=S), rtol=1e-5, atol=1e-7
        )
        ref = f.spectral_contrast(**kw)
        np.testing.assert_allclose(feature.spectral_contrast(**kw), ref, rtol=1e-5, atol=1e-4)


def test_spectral_contrast_top_db_none_is_a_fixed_floor() -> None:
    y = noise(22050)
    S = np.abs(librosa.stft(y))
    S[:, 10:20] = 0  # silent frames: -100 dB peaks and valleys with no top_db
    ours = feature.spectral_contrast(S=S, sr=22050, top_db=None)
    assert np.all(ours[:, 10:20] == 0.0)
    # frame by frame: a frame's contrast does not depend on the other frames
    np.testing.assert_array_equal(
        feature.spectral_contrast(S=S[:, 30:40], sr=22050, top_db=None), ours[:, 30:40]
    )
    with pytest.raises(ValueError, match="Nyquist"):
        feature.spectral_contrast(S=S, sr=8000)


def test_chroma_stft_equals_librosa(recordings) -> None:
    for y, sr in recordings:
        P = np.abs(librosa.stft(y)) ** 2
        for tuning in (0.0, 0.2):
            kw = {"S": P, "sr": sr, "tuning": tuning}
            ref = librosa.feature.chroma_stft(**kw)
            np.testing.assert_allclose(feature.chroma_stft(**kw), ref, rtol=1e-5, atol=1e-6)
        ref = librosa.feature.chroma_stft(S=P, sr=sr, tuning=0.0, norm=1)
        np.testing.assert_allclose(
            feature.chroma_stft(S=P, sr=sr, tuning=0.0, norm=1), ref, rtol=1e-5, atol=1e-6
        )


# --------------------------------------------------------------------------- util


def test_normalize_equals_librosa() -> None:
    x = np.random.default_rng(4).standard_normal((12, 50)).astype(np.float32)
    x[:, 7] = 0  # a column below the threshold stays as it is
    for norm in (np.inf, 1):
        for axis in (0, 1):
            ref = librosa.util.normalize(x, norm=norm, axis=axis)
            ours = util.normalize(x, norm=norm, axis=axis)
            assert ours.dtype == ref.dtype
            np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)


def test_zero_crossings_equal_librosa(recordings) -> None:
    tiny = np.array([0.5, 1e-11, -1e-11, -0.5, 0.0, 0.3, -0.2], dtype=np.float32)  # +-1e-10 is 0
    for x in (tiny, noise(8000), *(y for y, _ in recordings)):
        for pad in (True, False):
            np.testing.assert_array_equal(
                util.zero_crossings(y=x, pad=pad), librosa.zero_crossings(y=x, pad=pad)
            )
    lanes = np.stack([noise(8000), chirp(8000)[:12000]])
    np.testing.assert_array_equal(util.zero_crossings(y=lanes), librosa.zero_crossings(y=lanes))


# --------------------------------------------------------------------------- onset and beat


def _mel_db(y: np.ndarray, sr: int, hop: int = 512, top_db: float | None = None) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=y, sr=sr, hop_length=hop)
    return librosa.power_to_db(mel, top_db=top_db)


def test_onset_strength_equals_librosa(recordings) -> None:
    for y, sr in recordings:
        for hop in (512, 256):
            S = _mel_db(y, sr, hop)
            for aggregate in (np.mean, np.median):
                kw = {"S": S, "aggregate": aggregate, "hop_length": hop}
                ref = librosa.onset.onset_strength(**kw)
                np.testing.assert_allclose(onset.onset_strength(**kw), ref, rtol=1e-5, atol=1e-5)
            kw = {"y": y, "sr": sr, "hop_length": hop}
            ref = librosa.onset.onset_strength(**kw)
            np.testing.assert_allclose(onset.onset_strength(**kw), ref, rtol=1e-4, atol=1e-4)


def test_onset_detect_and_peak_pick_equal_librosa(recordings) -> None:
    for y, sr in recordings:
        for hop in (512, 256):
            env = librosa.onset.onset_strength(y=y, sr=sr, hop_length=hop)
            kw = {"onset_envelope": env, "sr": sr, "hop_length": hop}
            ref = librosa.onset.onset_detect(**kw)
            assert len(ref) > 3
            np.testing.assert_array_equal(onset.onset_detect(**kw), ref)
            x = env / env.max()
            pk = {"pre_max": 3, "post_max": 3, "pre_avg": 3, "post_avg": 5, "delta": 0.1}
            for wait in (0, 10):
                np.testing.assert_array_equal(
                    onset.peak_pick(x, wait=wait, **pk), librosa.util.peak_pick(x, wait=wait, **pk)
                )
    flat = np.zeros(100, np.float32)
    assert (
        onset.onset_detect(onset_envelope=flat).size
        == 0
        == librosa.onset.onset_detect(onset_envelope=flat).size
    )


@pytest.mark.parametrize("n", [1, 2, 44, 3000, beat.LOCAL_ROWS + 77])
@pytest.mark.parametrize("fpb", [3.0, 22.0, 43.0, 100.0])
def test_beat_local_score_is_librosas_bit_for_bit(n: int, fpb: float) -> None:
    local_score = getattr(librosa.beat, "__beat_local_score")  # librosa's compiled kernel
    onsets = np.random.default_rng(n + int(fpb)).random(n)
    window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1) * 32.0 / fpb) ** 2)
    np.testing.assert_array_equal(
        beat._local_score(onsets, window), local_score(onsets, np.array([fpb]))
    )


def test_tempo_and_beat_track_equal_librosa(recordings, corpus_dir) -> None:
    envs = []
    for y, sr in recordings:
        envs.append((librosa.onset.onset_strength(S=_mel_db(y, sr), aggregate=np.median), sr))
    for f in [
        *sorted((corpus_dir / "librosa").glob("*.ogg")),  # brahms once moved a beat (float32 DP)
        *sorted((corpus_dir / "fsdd").glob("*.wav"))[:8],
    ]:
        y, sr = librosa.load(f, sr=22050)
        envs.append((librosa.onset.onset_strength(S=_mel_db(y, sr), aggregate=np.median), sr))
    for env, sr in envs:
        kw = {"onset_envelope": env, "sr": sr, "hop_length": 512}
        bpm = beat.tempo(**kw)
        assert bpm.shape == (1,)
        assert bpm[0] == pytest.approx(librosa.feature.tempo(**kw)[0], rel=1e-9)
        ref_bpm, ref = librosa.beat.beat_track(bpm=bpm, **kw)
        got_bpm, got = beat.beat_track(bpm=bpm, **kw)
        np.testing.assert_array_equal(got, ref)
        ref_bpm, ref = librosa.beat.beat_track(**kw)  # estimating the tempo itself
        got_bpm, got = beat.beat_track(**kw)
        assert got_bpm[0] == pytest.approx(float(np.atleast_1d(ref_bpm)[0]), rel=1e-9)
        np.testing.assert_array_equal(got, ref)
    zero = np.zeros(500, np.float32)
    assert beat.beat_track(onset_envelope=zero, bpm=120.0)[1].size == 0


def test_tempogram_in_blocks_equals_whole(recordings) -> None:
    y, sr = recordings[1]
    env = librosa.onset.onset_strength(S=_mel_db(y, sr), aggregate=np.median)
    whole = beat.Tempogram(sr, 512)
    whole.feed(env)
    pieces = beat.Tempogram(sr, 512)
    for part in np.array_split(env, 7):
        pieces.feed(part)
    assert pieces.tempo() == whole.tempo() == beat.tempo(onset_envelope=env, sr=sr)[0]
    assert whole.tempo(0, len(env)) == whole.tempo()


def test_tempo_frequencies_equal_librosa() -> None:
    for sr, hop in ((22050, 512), (16000, 160)):
        np.testing.assert_allclose(
            beat.tempo_frequencies(384, hop_length=hop, sr=sr),
            librosa.tempo_frequencies(384, hop_length=hop, sr=sr),
            rtol=1e-12,
        )


def test_importing_dsp_loads_neither_scipy_nor_librosa() -> None:
    import subprocess
    import sys

    code = (
        "import sys; import audiokit.dsp\n"
        "from audiokit.dsp import beat, feature, fft, filters, onset, spectrum, util\n"
        "print([m for m in ('scipy', 'librosa') if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_beat_dynamic_programme_equals_librosa_on_random_envelopes() -> None:
    """The run-at-once DP (frames a run of ``hi_off`` apart) picks librosa's beats exactly."""
    rng = np.random.default_rng(1)
    for trial in range(24):
        n = int(rng.integers(5, 3000))
        env = (np.abs(rng.standard_normal(n)) ** 3).astype(np.float32)
        if trial % 5 == 0:
            env[: n // 3] = 0  # a silent start: no backlinks before the first strong onset
        sr = int(rng.choice([8000, 16000, 22050, 44100]))
        hop = int(rng.choice([256, 512]))
        bpm = float(rng.uniform(40, 240))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = librosa.beat.beat_track(onset_envelope=env, sr=sr, hop_length=hop, bpm=bpm)[1]
        np.testing.assert_array_equal(beat._beat_frames(env, sr, hop, bpm), ref)


@pytest.mark.parametrize("quantile", [0.02, 0.1, 0.5])
@pytest.mark.parametrize("n_fft", [1024, 2048])
def test_contrast_over_frame_rows_equals_librosa(quantile: float, n_fft: int) -> None:
    y = noise(22050)
    y[: len(y) // 3] = 0.0
    S = np.abs(librosa.stft(y, n_fft=n_fft))
    for sr in (16000, 22050, 44100):
        ref = librosa.feature.spectral_contrast(S=S, sr=sr, quantile=quantile)
        got = feature.spectral_contrast(S=S, sr=sr, quantile=quantile)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
