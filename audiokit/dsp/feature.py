"""``librosa.feature``: RMS, zero-crossing rate, mel spectrogram, MFCC, deltas, spectral shape.

As librosa, every feature of a 1-D signal has shape ``(rows, n_frames)`` (``(1, n_frames)``
for the scalar ones), and the spectral features take ``S=`` (a magnitude spectrogram,
power for the mel and chroma ones) or, where noted, ``y=``.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from audiokit.dsp import filters
from audiokit.dsp.pitch import estimate_tuning
from audiokit.dsp.spectrum import power_to_db, stft
from audiokit.dsp.util import negative, normalize


def rms(*, y: np.ndarray, frame_length: int = 2048, hop_length: int = 512) -> np.ndarray:
    """RMS of centred, zero-padded frames (``librosa.feature.rms(y=y)``).

    Parameters
    ----------
    y : np.ndarray, shape (..., n)

    Returns
    -------
    np.ndarray, shape (..., 1, 1 + n // hop_length), dtype of ``y``
    """
    pad = [(0, 0)] * (y.ndim - 1) + [(frame_length // 2, frame_length // 2)]
    padded = np.pad(y, pad, mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length, axis=-1)
    frames = frames[..., ::hop_length, :]
    return np.sqrt(np.mean(frames * frames, axis=-1))[..., None, :]


def zero_crossing_rate(
    *, y: np.ndarray, frame_length: int = 2048, hop_length: int = 512, threshold: float = 1e-10
) -> np.ndarray:
    """Zero-crossing rate (``librosa.feature.zero_crossing_rate(y=y)``, ``center=True``).

    As librosa: edge-padded centred frames, the sign rule of
    :func:`audiokit.dsp.util.zero_crossings`; crossings between consecutive samples of a
    frame, divided by the frame length.

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray, shape (1, 1 + n // hop_length), float32
    """
    pad = frame_length // 2
    padded = np.pad(y, (pad, pad), mode="edge")
    sign = negative(padded, threshold)
    change = np.zeros(len(padded) + 1, dtype=np.int64)
    np.cumsum(sign[1:] != sign[:-1], out=change[2:])
    n_frames = 1 + (len(padded) - frame_length) // hop_length
    starts = np.arange(n_frames) * hop_length
    count = change[starts + frame_length] - change[starts + 1]
    return (count / frame_length).astype(np.float32)[None, :]


def melspectrogram(
    *,
    y: np.ndarray | None = None,
    sr: float = 22050,
    S: np.ndarray | None = None,
    n_fft: int | None = None,
    hop_length: int = 512,
    window: str = "hann",
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Mel power spectrogram (``librosa.feature.melspectrogram``, ``power=2``).

    Parameters
    ----------
    y : np.ndarray, shape (..., n), optional
        Samples (their centred STFT is taken), or
    S : np.ndarray, shape (..., 1 + n_fft // 2, t), optional
        a power spectrogram (``n_fft`` None: read from its shape, as librosa).

    Returns
    -------
    np.ndarray, shape (..., n_mels, t), float32
    """
    if S is None:
        if y is None:
            raise ValueError("give y= or S=")
        n_fft = 2048 if n_fft is None else n_fft
        S = np.abs(stft(y=y, n_fft=n_fft, hop_length=hop_length, window=window)) ** 2
    basis = filters.mel(sr=sr, n_fft=_n_fft(S, n_fft), n_mels=n_mels, fmin=fmin, fmax=fmax)
    return np.einsum("...ft,mf->...mt", S, basis, optimize=True)


def mfcc(
    *,
    y: np.ndarray | None = None,
    sr: float = 22050,
    S: np.ndarray | None = None,
    n_mfcc: int = 20,
    n_fft: int = 2048,
    hop_length: int = 512,
    window: str = "hann",
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """MFCC (``librosa.feature.mfcc``: orthonormal DCT-II of a log-power mel spectrogram).

    Parameters
    ----------
    y : np.ndarray, shape (n,), optional
        Samples: ``S`` is then ``power_to_db(melspectrogram(y=y, ...))`` (``top_db=80``), or
    S : np.ndarray, shape (..., n_mels, t), optional
        a log-power mel spectrogram.

    Returns
    -------
    np.ndarray, shape (..., n_mfcc, t), dtype of ``S``
        The DCT is a matrix product in float64 (librosa's float32 ``scipy.fft.dct``
        differs in the last bits).
    """
    if S is None:
        if y is None:
            raise ValueError("give y= or S=")
        mel_power = melspectrogram(
            y=y, sr=sr, n_fft=n_fft, hop_length=hop_length, window=window, n_mels=n_mels,
            fmin=fmin, fmax=fmax,
        )  # fmt: skip
        S = power_to_db(S=mel_power)
    # in float64, cast back: a float32 product's rounding depends on the matrix shape
    # (BLAS), so blocks and whole files would differ in the last bits of large coefficients
    return (filters.dct(n_mfcc, S.shape[-2]) @ S.astype(np.float64)).astype(S.dtype)


@functools.lru_cache(maxsize=32)
def _delta_weights(width: int, order: int) -> np.ndarray:
    """Savitzky-Golay weights of ``librosa.feature.delta`` (polyorder = derivative = order).

    The least-squares polynomial of degree ``order`` has a constant ``order``-th
    derivative, so interior frames and the ``mode='interp'`` edges use the same weights
    (applied to the first/last ``width`` frames).
    """
    x = np.arange(width, dtype=np.float64) - width // 2
    V = np.vander(x, order + 1, increasing=True)
    return np.linalg.pinv(V)[order] * math.factorial(order)


def delta(*, data: np.ndarray, width: int = 9, order: int = 1) -> np.ndarray:
    """``librosa.feature.delta(data, width=width, order=order)`` along the last axis.

    Parameters
    ----------
    data : np.ndarray, shape (d, n), n >= width (odd, >= 3)

    Returns
    -------
    np.ndarray, shape (d, n), dtype of ``data``
    """
    if width < 3 or width % 2 == 0 or data.shape[-1] < width:
        raise ValueError(f"delta width {width} must be odd, >= 3 and <= the frames")
    w = _delta_weights(width, order)
    half = width // 2
    n = data.shape[-1]
    out = np.empty_like(data)
    # in float64: the weights sum to 0, so a float32 product's rounding (which depends on
    # the matrix shape in BLAS) would be the whole result on a steady signal
    windows = np.lib.stride_tricks.sliding_window_view(data, width, axis=-1)
    out[:, half : n - half] = windows.astype(np.float64) @ w
    out[:, :half] = out[:, half : half + 1]
    out[:, n - half :] = out[:, n - half - 1 : n - half]
    return out


@functools.lru_cache(maxsize=16)
def _moment_matrix(sr: float, n_fft: int) -> np.ndarray:
    f = filters.fft_frequencies(sr=sr, n_fft=n_fft)
    return np.stack([np.ones_like(f), f, f**2])


def _n_fft(S: np.ndarray, n_fft: int | None) -> int:
    """The FFT size of a spectrogram: ``n_fft``, or (None) librosa's ``2 * (bins - 1)``.

    librosa ignores ``n_fft=`` when given ``S=``; the ports use it when given, so that
    an odd FFT size keeps its own bin frequencies (for even sizes the two agree).
    """
    return 2 * (S.shape[-2] - 1) if n_fft is None else n_fft


def centroid_and_bandwidth(
    *, S: np.ndarray, sr: float = 22050, n_fft: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`spectral_centroid` and :func:`spectral_bandwidth` of ``S`` at once.

    Both come from the first three moments of each frame, one matrix product in float64
    (what the two ports compute; calling them separately does the product twice).

    Returns
    -------
    centroid, bandwidth : np.ndarray, shape (1, t), float64
    """
    moments = _moment_matrix(sr, _n_fft(S, n_fft)) @ S.astype(np.float64)
    total = moments[0]
    norm = np.where(total < np.finfo(np.float32).tiny, 1.0, total)
    c = moments[1] / norm
    var = moments[2] / norm - 2 * c * moments[1] / norm + c**2 * total / norm
    return c[None, :], np.sqrt(np.maximum(var, 0.0))[None, :]


def spectral_centroid(*, S: np.ndarray, sr: float = 22050, n_fft: int | None = None) -> np.ndarray:
    """Spectral centroid in Hz (``librosa.feature.spectral_centroid(S=S, sr=sr)``).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Magnitude spectrogram.

    Returns
    -------
    np.ndarray, shape (1, t), float64 (as librosa); an all-zero frame gives 0.
    """
    return centroid_and_bandwidth(S=S, sr=sr, n_fft=n_fft)[0]


def spectral_bandwidth(
    *, S: np.ndarray, sr: float = 22050, n_fft: int | None = None, p: float = 2.0
) -> np.ndarray:
    """Order-``p`` spectral bandwidth in Hz (``librosa.feature.spectral_bandwidth(S=S, p=p)``).

    ``(sum_f S_norm[f] * |f - centroid| ** p) ** (1 / p)`` with ``S`` normalised to sum 1
    per frame. ``p=2`` comes from the first three moments (:func:`centroid_and_bandwidth`);
    other orders from the deviations, in float64.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Magnitude spectrogram.
    p : float
        Order, > 0.

    Returns
    -------
    np.ndarray, shape (1, t), float64; an all-zero frame gives 0.
    """
    centroid, bandwidth = centroid_and_bandwidth(S=S, sr=sr, n_fft=n_fft)
    if p == 2:
        return bandwidth
    return bandwidth_order(S=S, centroid=centroid, sr=sr, n_fft=n_fft, p=p)


def bandwidth_order(
    *, S: np.ndarray, centroid: np.ndarray, sr: float = 22050, n_fft: int | None = None, p: float
) -> np.ndarray:
    """Order-``p`` bandwidth given the centroid (as :func:`spectral_bandwidth`).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Magnitude spectrogram.
    centroid : np.ndarray, shape (1, t)
        Its spectral centroid (:func:`centroid_and_bandwidth`).

    Returns
    -------
    np.ndarray, shape (1, t), float64
    """
    freq = filters.fft_frequencies(sr=sr, n_fft=_n_fft(S, n_fft)).astype(np.float64)
    S64 = S.astype(np.float64)
    total = S64.sum(axis=0)
    norm = np.where(total < np.finfo(np.float32).tiny, 1.0, total)
    dev = np.abs(freq[:, None] - centroid.astype(np.float64)) ** p
    return (np.einsum("ft,ft->t", S64, dev) / norm)[None, :] ** (1.0 / p)


def spectral_rolloff(
    *, S: np.ndarray, sr: float = 22050, n_fft: int | None = None, roll_percent: float = 0.85
) -> np.ndarray:
    """Roll-off frequency in Hz (``librosa.feature.spectral_rolloff(S=S, sr=sr)``).

    Returns
    -------
    np.ndarray, shape (1, t), float64; an all-zero frame gives 0.
    """
    freq = filters.fft_frequencies(sr=sr, n_fft=_n_fft(S, n_fft))
    cum = np.cumsum(S, axis=0)
    return freq[np.argmax(cum >= roll_percent * cum[-1], axis=0)][None, :]


def spectral_flatness(*, S: np.ndarray, amin: float = 1e-10, power: float = 2.0) -> np.ndarray:
    """Spectral flatness (``librosa.feature.spectral_flatness(S=S)``).

    Returns
    -------
    np.ndarray, shape (1, t), dtype of ``S``; an all-zero frame gives 1.
    """
    S_thresh = np.maximum(S.dtype.type(amin), S**power)
    gmean = np.exp(np.mean(np.log(S_thresh), axis=0))
    return (gmean / np.mean(S_thresh, axis=0))[None, :]


def contrast_peaks_valleys(
    *,
    S: np.ndarray,
    sr: float = 22050,
    n_fft: int | None = None,
    n_bands: int = 6,
    fmin: float = 200.0,
    quantile: float = 0.02,
) -> tuple[np.ndarray, np.ndarray]:
    """The band peaks and valleys of :func:`spectral_contrast`, before their dB conversion.

    Returns
    -------
    peak, valley : np.ndarray, shape (n_bands + 1, t), float64
        Mean of the top / bottom ``quantile`` of each octave band's magnitudes.

    Raises
    ------
    ValueError
        A band starts above the Nyquist frequency (as librosa).
    """
    freq = filters.fft_frequencies(sr=sr, n_fft=_n_fft(S, n_fft))
    octa = np.zeros(n_bands + 2)
    octa[1:] = fmin * (2.0 ** np.arange(0, n_bands + 1))
    if np.any(octa[:-1] >= 0.5 * sr):
        raise ValueError("Frequency band exceeds Nyquist. Reduce either fmin or n_bands.")
    valley = np.zeros((n_bands + 1, S.shape[1]))
    peak = np.zeros_like(valley)
    # Frames as rows: numpy's vectorised sort runs along contiguous memory, twice as
    # fast as down the columns of S.
    rows = np.ascontiguousarray(S.T)
    for k, (f_low, f_high) in enumerate(itertools.pairwise(octa)):
        band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(band)
        if k > 0:
            band[idx[0] - 1] = True
        if k == n_bands:
            band[idx[-1] + 1 :] = True
        # the band's bins form one run: bins lo..hi (the last one dropped below the top)
        on = np.flatnonzero(band)
        lo, hi = int(on[0]), int(on[-1]) + 1
        if k < n_bands:
            hi -= 1
        q = max(int(np.rint(quantile * np.sum(band))), 1)
        srt = np.sort(rows[:, lo:hi], axis=1)
        valley[k] = np.mean(srt[:, :q], axis=1, dtype=np.float64)
        peak[k] = np.mean(srt[:, -q:], axis=1, dtype=np.float64)
    return peak, valley


def spectral_contrast(
    *,
    S: np.ndarray,
    sr: float = 22050,
    n_fft: int | None = None,
    n_bands: int = 6,
    fmin: float = 200.0,
    quantile: float = 0.02,
    top_db: float | None = 80.0,
) -> np.ndarray:
    """Spectral contrast in dB (``librosa.feature.spectral_contrast(S=S, sr=sr)``).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Magnitude spectrogram.
    top_db
        Not a librosa argument: librosa converts peaks and valleys with
        ``power_to_db(top_db=80)``, whose floor depends on the loudest frame of the whole
        input; None floors at ``amin`` (-100 dB) only, so that a frame's value depends on
        that frame alone.

    Returns
    -------
    np.ndarray, shape (n_bands + 1, t), float64

    Raises
    ------
    ValueError
        A band starts above the Nyquist frequency (as librosa).
    """
    peak, valley = contrast_peaks_valleys(
        S=S, sr=sr, n_fft=n_fft, n_bands=n_bands, fmin=fmin, quantile=quantile
    )
    return power_to_db(S=peak, top_db=top_db) - power_to_db(S=valley, top_db=top_db)


def chroma_stft(
    *,
    S: np.ndarray,
    sr: float = 22050,
    tuning: float | None = None,
    n_fft: int | None = None,
    n_chroma: int = 12,
    norm: float = np.inf,
) -> np.ndarray:
    """Chromagram of a power spectrogram (``librosa.feature.chroma_stft(S=S, tuning=tuning)``).

    ``tuning`` None (librosa's default) estimates it from ``S``
    (:func:`audiokit.dsp.pitch.estimate_tuning`, ``bins_per_octave=n_chroma``).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Power spectrogram.

    Returns
    -------
    np.ndarray, shape (n_chroma, t), dtype of ``S``
    """
    if tuning is None:
        tuning = estimate_tuning(S=S, sr=sr, bins_per_octave=n_chroma)
    fb = filters.chroma(sr=sr, n_fft=_n_fft(S, n_fft), n_chroma=n_chroma, tuning=tuning)
    return normalize(fb @ S, norm=norm, axis=0)
