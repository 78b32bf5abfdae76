"""``librosa.onset``: onset strength, peak picking, onset detection."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from audiokit.dsp.feature import melspectrogram
from audiokit.dsp.spectrum import power_to_db


def onset_strength(
    *,
    y: np.ndarray | None = None,
    sr: float = 22050,
    S: np.ndarray | None = None,
    lag: int = 1,
    aggregate: Callable[..., np.ndarray] = np.mean,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
) -> np.ndarray:
    """Spectral-flux onset strength (``librosa.onset.onset_strength``, ``max_size=1``).

    The positive first difference (``lag``) of a log-power mel spectrogram, aggregated
    over the bands, shifted by ``lag + n_fft // (2 * hop_length)`` frames to line up
    with the centred frames (``center=True``).

    Parameters
    ----------
    y : np.ndarray, shape (n,), optional
        Samples: ``S`` is then ``power_to_db(melspectrogram(y=y, ...))`` (``top_db=80``), or
    S : np.ndarray, shape (n_mels, t), optional
        a log-power mel spectrogram.
    aggregate
        ``np.mean`` (librosa's default) or ``np.median`` (its beat tracker's).

    Returns
    -------
    np.ndarray, shape (t,), dtype of ``S``
    """
    if S is None:
        if y is None:
            raise ValueError("give y= or S=")
        mel = melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
        S = power_to_db(S=mel)
    n = S.shape[-1]
    flux = np.maximum(0.0, S[:, lag:] - S[:, :-lag])
    agg = aggregate(flux, axis=0)
    shift = lag + n_fft // (2 * hop_length)
    env = np.zeros(n, dtype=S.dtype)
    if n > shift:
        env[shift:] = agg[: n - shift]
    return env


def peak_pick(
    x: np.ndarray,
    *,
    pre_max: int,
    post_max: int,
    pre_avg: int,
    post_avg: int,
    delta: float,
    wait: int,
) -> np.ndarray:
    """Peaks of ``x`` (``librosa.util.peak_pick``, sparse): frame indices.

    A frame is a peak when it is the maximum of ``x[i - pre_max : i + post_max]``, at
    least ``delta`` above the mean of ``x[i - pre_avg : i + post_avg]`` (both windows
    clipped to the signal) and more than ``wait`` frames after the previous peak.

    Parameters
    ----------
    x : np.ndarray, shape (n,), float32

    Returns
    -------
    np.ndarray of int, shape (n_peaks,)
    """
    n = len(x)
    idx = np.arange(n)
    # moving maximum over x[max(0, i - pre_max) : min(i + post_max, n)]
    padded = np.concatenate(
        [np.full(pre_max, -np.inf, x.dtype), x, np.full(post_max, -np.inf, x.dtype)]
    )
    windows = np.lib.stride_tricks.sliding_window_view(padded, pre_max + post_max)[:n]
    is_max = x == windows.max(axis=1)
    # moving mean over x[max(0, i - pre_avg) : min(i + post_avg, n)]
    csum = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    lo, hi = np.maximum(0, idx - pre_avg), np.minimum(idx + post_avg, n)
    avg = ((csum[hi] - csum[lo]) / (hi - lo)).astype(x.dtype)
    d = x.dtype.type(delta)
    above = x >= avg + d
    # the first frame looks ahead only
    is_max[0] = x[0] >= x[: min(post_max, n)].max()
    above[0] = x[0] >= x.dtype.type(x[: min(post_avg, n)].mean(dtype=np.float64)) + d
    picked: list[int] = []
    next_free = 0
    for i in np.flatnonzero(is_max & above).tolist():
        if i >= next_free:
            picked.append(i)
            next_free = i + wait + 1
    return np.asarray(picked, dtype=int)


def onset_detect(
    *, onset_envelope: np.ndarray, sr: float = 22050, hop_length: int = 512
) -> np.ndarray:
    """Onset frames of an onset-strength envelope (``librosa.onset.onset_detect``).

    The envelope is scaled to [0, 1] and peak-picked with onset_detect's parameters:
    the maximum of the 30 ms before, 0.07 above the mean of the 100 ms around, 30 ms
    after the previous onset.

    Parameters
    ----------
    onset_envelope : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray of int, shape (n_onsets,); empty when the envelope is flat or not finite.
    """
    x = np.asarray(onset_envelope, dtype=np.float32)
    if not x.size or not np.isfinite(x).all():
        return np.zeros(0, dtype=int)
    x = x - x.min()
    if not x.any():
        return np.zeros(0, dtype=int)
    x = x / (x.max() + np.finfo(np.float32).tiny)
    return peak_pick(
        x,
        pre_max=math.ceil(0.03 * sr // hop_length),
        post_max=math.ceil(0.00 * sr // hop_length + 1),
        pre_avg=math.ceil(0.10 * sr // hop_length),
        post_avg=math.ceil(0.10 * sr // hop_length + 1),
        delta=0.07,
        wait=math.ceil(0.03 * sr // hop_length),
    )
