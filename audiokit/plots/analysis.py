"""What the analysis plots show: zero crossings, spectral curves, MFCC/chroma, onsets and beats.

Each function reproduces the librosa call the tutorials make (tested equal to
it), with audiokit's numpy ports (:mod:`audiokit.dsp`,
:mod:`audiokit.features`) so that drawing them never imports librosa; the
chroma heatmap alone calls librosa, for its per-input tuning estimate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from audiokit.plots.spectra import StftParams


def zero_crossings(y: np.ndarray) -> np.ndarray:
    """Indices ``i`` where the sign changes between ``y[i-1]`` and ``y[i]`` (librosa's rule).

    As ``librosa.zero_crossings(y, pad=False)``: samples within 1e-10 of zero
    count as zero, and zero counts as positive.

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray of int, shape (count,); ``len`` equals
    ``librosa.zero_crossings(y, pad=False).sum()``.
    """
    import numpy as np

    negative = np.signbit(np.where(np.abs(y) <= 1e-10, 0.0, y))
    return np.flatnonzero(negative[1:] != negative[:-1]) + 1


def minmax_normalise(x: np.ndarray) -> np.ndarray:
    """Scale to ``[0, 1]`` (as ``sklearn.preprocessing.minmax_scale``); constant -> zeros."""
    import numpy as np

    lo, hi = float(np.min(x)), float(np.max(x))
    return np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo)


def spectral_features(y: np.ndarray, sr: int, params: StftParams) -> dict[str, Any]:
    """Spectral centroid, rolloff (85 %) and bandwidth per frame, in Hz.

    As librosa's ``spectral_centroid``, ``spectral_rolloff`` and
    ``spectral_bandwidth`` of ``|librosa.stft(y)|`` (the numpy ports of
    :mod:`audiokit.features.groups`, so no librosa import).

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    dict with ``times`` (frames,) and ``centroid``, ``rolloff``, ``bandwidth`` (frames,).
    """
    import numpy as np

    from audiokit import dsp
    from audiokit.features.groups import spectral_shape

    y = np.asarray(y, dtype=np.float32)
    s = np.abs(dsp.stft(y, params.n_fft, params.hop_length, params.window))
    centroid, bandwidth, rolloff, _ = spectral_shape(s, sr, params.n_fft)
    times = np.arange(s.shape[-1]) * params.hop_length / sr
    return {"centroid": centroid, "rolloff": rolloff, "bandwidth": bandwidth, "times": times}


def feature_matrix(
    y: np.ndarray,
    sr: int,
    which: str,
    stft: StftParams,
    n_mfcc: int = 20,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """MFCC (as ``librosa.feature.mfcc``, numpy only) or chroma (``librosa.feature.chroma_stft``).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    which : str
        ``mfcc`` or ``chroma``.

    Returns
    -------
    np.ndarray, shape (n_mfcc or 12, frames)
    """
    if which == "mfcc":
        import numpy as np

        from audiokit import dsp

        y = np.asarray(y, dtype=np.float32)
        spec = dsp.stft(y, stft.n_fft, stft.hop_length, stft.window)
        power = spec.real**2 + spec.imag**2
        mel = dsp.mel_filters(sr, stft.n_fft, n_mels, fmin, fmax) @ power
        mel_db = dsp.power_to_db(mel, top_db=80.0, ref=1.0)
        return (dsp.dct_matrix(n_mfcc, n_mels) @ mel_db).astype(np.float32)
    import librosa  # chroma: librosa estimates the tuning of each input

    return librosa.feature.chroma_stft(
        y=y, sr=sr, n_fft=stft.n_fft, hop_length=stft.hop_length, window=stft.window
    )


def onset_events(y: np.ndarray, sr: int, hop_length: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Onsets and beats in seconds and the tempo in BPM, as librosa's detectors give them.

    ``librosa.onset.onset_detect(y=y, units="time")`` (mean onset strength of a
    128-band mel dB spectrogram, normalised, peak-picked) and
    ``librosa.beat.beat_track(y=y, units="time")`` (median onset strength,
    tempo from the autocorrelation tempogram, dynamic-programming tracker),
    computed with audiokit's numpy ports (no librosa import).

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    onsets : np.ndarray, shape (n_onsets,)
    beats : np.ndarray, shape (n_beats,)
    tempo : float
        0 when there is no onset at all (as librosa).
    """
    import numpy as np

    from audiokit import dsp
    from audiokit.features.groups import onset_envelope
    from audiokit.features.rhythm import Tempogram, beat_frames
    from audiokit.features.schema import FeatureParams

    n_fft = 2048  # onset_strength's own STFT, whatever the picture's
    spec = dsp.stft(np.asarray(y, dtype=np.float32), n_fft, hop_length)
    mel = dsp.mel_filters(sr, n_fft, 128, 0.0, None) @ (spec.real**2 + spec.imag**2)
    mel_db = dsp.power_to_db(mel, top_db=80.0, ref=1.0)
    p = FeatureParams(n_fft=n_fft, hop_length=hop_length)
    onsets = pick_onsets(onset_envelope(mel_db, p), sr, hop_length)
    env = onset_envelope(mel_db, p, median=True)
    if not env.any():
        return onsets * hop_length / sr, np.zeros(0), 0.0
    tg = Tempogram(sr, hop_length)
    tg.feed(env)
    tempo = float(tg.tempo())
    beats = beat_frames(env, sr, hop_length, tempo)
    return onsets * hop_length / sr, beats * hop_length / sr, tempo


def pick_onsets(env: np.ndarray, sr: int, hop_length: int) -> np.ndarray:
    """Onset frames of an onset-strength envelope, as ``librosa.onset.onset_detect``.

    The envelope is scaled to [0, 1]; a frame is an onset when it is the
    maximum of the 30 ms before it, at least 0.07 above the mean of the
    100 ms around it, and more than 30 ms after the previous onset
    (``librosa.util.peak_pick`` with onset_detect's parameters).

    Parameters
    ----------
    env : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray of int, shape (n_onsets,)
    """
    import math

    import numpy as np

    x = np.asarray(env, dtype=np.float32)
    if not x.size or not np.isfinite(x).all():
        return np.zeros(0, dtype=int)
    x = x - x.min()
    if not x.any():
        return np.zeros(0, dtype=int)
    x = x / (x.max() + np.finfo(np.float32).tiny)
    pre_max = math.ceil(0.03 * sr // hop_length)
    post_max = math.ceil(0.00 * sr // hop_length + 1)
    pre_avg = math.ceil(0.10 * sr // hop_length)
    post_avg = math.ceil(0.10 * sr // hop_length + 1)
    wait = math.ceil(0.03 * sr // hop_length)
    delta = np.float32(0.07)
    n = len(x)
    idx = np.arange(n)
    # moving maximum over x[max(0, i - pre_max) : min(i + post_max, n)]
    padded = np.concatenate(
        [np.full(pre_max, -np.inf, np.float32), x, np.full(post_max, -np.inf, np.float32)]
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, pre_max + post_max)[:n]
    is_max = x == windows.max(axis=1)
    # moving mean over x[max(0, i - pre_avg) : min(i + post_avg, n)]
    csum = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    lo, hi = np.maximum(0, idx - pre_avg), np.minimum(idx + post_avg, n)
    avg = ((csum[hi] - csum[lo]) / (hi - lo)).astype(np.float32)
    above = x >= avg + delta
    # the first frame looks ahead only
    is_max[0] = x[0] >= x[: min(post_max, n)].max()
    above[0] = x[0] >= np.float32(x[: min(post_avg, n)].mean(dtype=np.float64)) + delta
    picked: list[int] = []
    next_free = 0
    for i in np.flatnonzero(is_max & above).tolist():
        if i >= next_free:
            picked.append(i)
            next_free = i + wait + 1
    return np.asarray(picked, dtype=int)
