"""librosa's building blocks in plain numpy, so that the default groups never import librosa.

Importing ``librosa.beat`` and ``librosa.core`` compiles numba kernels and
loads scipy.signal and scipy.stats: seconds per process, more than a whole
directory of short clips takes to analyse. The functions here reproduce
librosa 0.11 (same formulas, windows, padding and dtypes; tests compare them
with librosa) for the STFT, the Slaney mel and chroma filterbanks, RMS,
zero-crossing rate and delta features.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


@functools.lru_cache(maxsize=16)
def hann(n: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window("hann", n, fftbins=True)``)."""
    import numpy as np

    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def stft(y: np.ndarray, n_fft: int, hop_length: int) -> np.ndarray:
    """Centred, zero-padded Hann STFT, as ``librosa.stft(y, n_fft, hop_length)``.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, 1 + n // hop_length), complex64
    """
    import numpy as np
    import scipy.fft

    pad = n_fft // 2
    padded = np.pad(y, (pad, pad), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    win = hann(n_fft).astype(y.dtype)
    # scipy's pocketfft (librosa uses numpy's: same transform, within float32 rounding)
    return scipy.fft.rfft(frames * win, axis=-1).T


def _hz_to_mel(f: float | np.ndarray) -> np.ndarray:
    import numpy as np

    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_mel = 1000.0 / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(
        f >= 1000.0, min_log_mel + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mels
    )


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    import numpy as np

    f_sp = 200.0 / 3
    min_log_mel = 1000.0 / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, 1000.0 * np.exp(logstep * (m - min_log_mel)), f_sp * m)


@functools.lru_cache(maxsize=16)
def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """Slaney mel filterbank (``librosa.filters.mel``), shape (n_mels, 1 + n_fft // 2), float32."""
    import numpy as np

    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, None]
    return weights


@functools.lru_cache(maxsize=16)
def chroma_filters(sr: int, n_fft: int, n_chroma: int = 12) -> np.ndarray:
    """Chroma filterbank at A440 (``librosa.filters.chroma``), shape (12, 1 + n_fft // 2)."""
    import numpy as np

    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    octs = np.log2(frequencies / (440.0 / 16))
    frqbins = n_chroma * octs
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    D = np.remainder(D + half + 10 * n_chroma, n_chroma) - half
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    length = np.sqrt((wts**2).sum(axis=0))
    length[length < np.finfo(wts.dtype).tiny] = 1.0
    wts = wts / length
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - 5.0) / 2) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)


def rms(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """RMS of centred, zero-padded frames (``librosa.feature.rms(y=y)``), shape (n_frames,)."""
    import numpy as np

    pad = frame_length // 2
    padded = np.pad(y, (pad, pad), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    return np.sqrt(np.mean(frames * frames, axis=-1))


def zero_crossing_rate(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Zero-crossing rate (``librosa.feature.zero_crossing_rate``), shape (n_frames,).

    As librosa: edge-padded centred frames, values with ``|y| <= 1e-10`` count
    as positive zeros; crossings between consecutive samples of a frame,
    divided by the frame length.
    """
    import numpy as np

    pad = frame_length // 2
    padded = np.pad(y, (pad, pad), mode="edge")
    sign = np.signbit(np.where(np.abs(padded) <= 1e-10, 0.0, padded))
    change = np.zeros(len(padded) + 1, dtype=np.int64)
    np.cumsum(sign[1:] != sign[:-1], out=change[2:])
    n_frames = 1 + (len(padded) - frame_length) // hop_length
    starts = np.arange(n_frames) * hop_length
    count = change[starts + frame_length] - change[starts + 1]
    return (count / frame_length).astype(np.float32)


@functools.lru_cache(maxsize=32)
def delta_weights(width: int, order: int) -> np.ndarray:
    """Savitzky-Golay weights of ``librosa.feature.delta`` (polyorder = derivative = order).

    The least-squares polynomial of degree ``order`` has a constant
    ``order``-th derivative, so interior frames and the ``mode='interp'``
    edges use the same weights (applied to the first/last ``width`` frames).
    """
    import numpy as np

    x = np.arange(width, dtype=np.float64) - width // 2
    V = np.vander(x, order + 1, increasing=True)
    return np.linalg.pinv(V)[order] * math.factorial(order)


def delta(x: np.ndarray, width: int, order: int) -> np.ndarray:
    """``librosa.feature.delta(x, width=width, order=order)`` along the last axis.

    Parameters
    ----------
    x : np.ndarray, shape (d, n), n >= width (odd, >= 3)
    """
    import numpy as np

    w = delta_weights(width, order).astype(x.dtype)
    half = width // 2
    n = x.shape[1]
    out = np.empty_like(x)
    out[:, half : n - half] = np.lib.stride_tricks.sliding_window_view(x, width, axis=-1) @ w
    out[:, :half] = out[:, half : half + 1]
    out[:, n - half :] = out[:, n - half - 1 : n - half]
    return out
