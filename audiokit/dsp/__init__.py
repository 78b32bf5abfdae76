"""librosa's building blocks in plain numpy: STFT, dB, mel and chroma filterbanks, and friends.

Importing librosa costs seconds and ~190 MB per process (numba compiles its
kernels, scipy.signal and scipy.stats load), more than drawing a waveform or
analysing a directory of short clips takes. The functions here reproduce
librosa 0.11 (same formulas, windows, padding and dtypes) so that the common
paths of ``features``, ``plot`` and ``spectrogram`` never import it; the tests
compare each one with librosa.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Slaney's mel scale (librosa's default, htk=False).
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


@functools.lru_cache(maxsize=16)
def window(name: str, n: int) -> np.ndarray:
    """Periodic window of length ``n`` (``scipy.signal.get_window(name, n, fftbins=True)``).

    Returns
    -------
    np.ndarray, shape (n,), float32, read-only (it is cached)
    """
    import numpy as np

    if name in ("hann", "hanning"):
        k = np.arange(n, dtype=np.float64)
        win = (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)).astype(np.float32)
    else:
        from scipy.signal import get_window

        win = np.asarray(get_window(name, n, fftbins=True), dtype=np.float32)
    win.setflags(write=False)
    return win


#: Transforms of fewer samples than this use numpy's FFT: importing scipy.fft costs
#: ~0.2 s (it pulls in scipy.special), more than its faster FFT (~3.5x on float32)
#: saves on a short clip.
SCIPY_FFT_MIN_SIZE = 1 << 20

#: The backend a whole signal's transforms use (see :func:`fft_for`), or None.
_backend: str | None = None


@contextlib.contextmanager
def fft_for(n_samples: int) -> Iterator[None]:
    """Use one FFT backend for every transform of a signal of ``n_samples`` samples.

    The two backends differ in the last bits. Chosen by the signal's own length, not by
    the size of each array (a block's size depends on how many workers share the file)
    nor by what happens to be imported, a file's values are bit-identical whatever
    else is in the batch and whatever ``-j``.
    """
    global _backend
    old, _backend = _backend, "numpy" if n_samples < SCIPY_FFT_MIN_SIZE else "scipy"
    try:
        yield
    finally:
        _backend = old


def _use_numpy_fft(x: np.ndarray) -> bool:
    if _backend is not None:
        return _backend == "numpy"
    return x.size < SCIPY_FFT_MIN_SIZE


def rfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> np.ndarray:
    """Real FFT (float32 in, complex64 out): numpy's for small inputs, scipy's for large."""
    if _use_numpy_fft(x):
        import numpy as np

        return np.fft.rfft(x, n=n, axis=axis)
    import scipy.fft

    return scipy.fft.rfft(x, n=n, axis=axis)


def irfft(x: np.ndarray, n: int, axis: int = -1) -> np.ndarray:
    """Inverse of :func:`rfft`, with the same choice of implementation."""
    if _use_numpy_fft(x):
        import numpy as np

        return np.fft.irfft(x, n=n, axis=axis)
    import scipy.fft

    return scipy.fft.irfft(x, n=n, axis=axis)


def next_fast_len(n: int) -> int:
    """Smallest ``2**a * 3**b * 5**c >= n`` (a length both FFTs handle quickly)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


@functools.lru_cache(maxsize=16)
def dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II basis, shape (n_out, n_in), float64, read-only.

    ``dct_matrix(k, n) @ x`` equals ``scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:k]``.
    """
    import numpy as np

    k = np.arange(n_out)[:, None]
    i = np.arange(n_in)[None, :]
    basis = np.cos(np.pi * k * (2 * i + 1) / (2 * n_in)) * math.sqrt(2.0 / n_in)
    basis[0] /= math.sqrt(2.0)
    basis.setflags(write=False)
    return basis


def stft(y: np.ndarray, n_fft: int, hop_length: int, window_name: str = "hann") -> np.ndarray:
    """Centred, zero-padded STFT, as ``librosa.stft(y, n_fft=n_fft, hop_length=hop_length)``.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
    window_name : str
        Periodic window (:func:`window`); librosa's default ``hann``.

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2, 1 + n // hop_length), complex64
    """
    import numpy as np

    pad = n_fft // 2
    padded = np.pad(y, (pad, pad), mode="constant")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length]
    win = window(window_name, n_fft).astype(y.dtype)
    # pocketfft either way (numpy's or scipy's): the same transform, within float32 rounding
    return rfft(frames * win, axis=-1).T


def frames_power(seg: np.ndarray, n_fft: int, hop: int, win: np.ndarray) -> np.ndarray:
    """``|librosa.stft(seg, center=False)|**2`` of every full frame of ``seg``.

    Parameters
    ----------
    seg : np.ndarray, shape (lanes, n), n >= n_fft
    win : np.ndarray, shape (n_fft,)

    Returns
    -------
    np.ndarray, shape (lanes, 1 + n_fft // 2, 1 + (n - n_fft) // hop), float32
    """
    import numpy as np

    frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft, axis=-1)[:, ::hop]
    spec = np.fft.rfft(frames * win, axis=-1)
    power = spec.real**2 + spec.imag**2
    return np.ascontiguousarray(np.swapaxes(power, -1, -2), dtype=np.float32)


def power_to_db(
    s: np.ndarray, top_db: float | None = 80.0, amin: float = 1e-10, ref: float | None = None
) -> np.ndarray:
    """``librosa.power_to_db(s, ref=ref, amin=amin, top_db=top_db)``; ``ref=None``: ``np.max``."""
    import numpy as np

    s = np.asarray(s, dtype=np.float64)
    ref = float(np.max(s)) if ref is None else ref
    log_spec = 10.0 * np.log10(np.maximum(amin, s)) - 10.0 * np.log10(max(amin, ref))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return np.asarray(log_spec, dtype=np.float32)


def hz_to_mel(f: Any) -> Any:
    """Slaney mel of ``f`` Hz (``librosa.hz_to_mel``)."""
    import numpy as np

    f = np.asarray(f, dtype=np.float64)
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(m: Any) -> Any:
    """Hz of Slaney mel ``m`` (``librosa.mel_to_hz``)."""
    import numpy as np

    m = np.asarray(m, dtype=np.float64)
    return np.where(
        m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m
    )


def mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies equally spaced in mel from ``fmin`` to ``fmax`` (librosa's)."""
    import numpy as np

    return np.asarray(mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n)))


@functools.lru_cache(maxsize=16)
def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """Slaney mel filterbank, as ``librosa.filters.mel`` (bit for bit).

    Triangular filters on the Slaney mel scale with area normalisation;
    ``fmax=None`` means ``sr / 2``.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32, read-only (it is cached)
    """
    import numpy as np

    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin, fmax)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, len(fftfreqs)), dtype=np.float32)
    for i in range(n_mels):  # row by row into float32, then scaled: librosa's rounding
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, None]
    weights.setflags(write=False)
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
