"""``librosa.core.spectrum`` and friends: window, STFT, power and amplitude to dB.

Each function takes librosa's keyword names and defaults; every call of one of them is
also a valid call of the librosa function it is named after, with the same result
(``tests/test_dsp.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from audiokit.dsp.fft import rfft

#: ``ref=`` of the dB conversions: a value, or a function of the input (``np.max``).
Ref = float | Callable[[np.ndarray], float]


@functools.lru_cache(maxsize=16)
def get_window(window: str, Nx: int) -> np.ndarray:
    """Periodic window, as ``scipy.signal.get_window(window, Nx, fftbins=True)``.

    Hann (librosa's default) is computed here; other names ask scipy.signal, imported
    only then: it costs 0.8-2 s to import (measured on the test machine), more than
    most of audiokit's pictures take to draw.

    Returns
    -------
    np.ndarray, shape (Nx,), float32, read-only (it is cached)
    """
    if window in ("hann", "hanning"):
        k = np.arange(Nx, dtype=np.float64)
        win = (0.5 - 0.5 * np.cos(2.0 * np.pi * k / Nx)).astype(np.float32)
    else:
        from scipy.signal import get_window as scipy_window  # lazy on purpose (see above)

        win = np.asarray(scipy_window(window, Nx, fftbins=True), dtype=np.float32)
    win.setflags(write=False)
    return win


def stft(
    *,
    y: np.ndarray,
    n_fft: int = 2048,
    hop_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> np.ndarray:
    """Short-time Fourier transform, as ``librosa.stft`` (``win_length = n_fft``).

    Parameters
    ----------
    y : np.ndarray, shape (..., n), float32
    n_fft, hop_length, window, center, pad_mode
        librosa's (``hop_length`` None: ``n_fft // 4``; ``center``: frames centred at
        multiples of ``hop_length``, the signal padded by ``n_fft // 2`` each side).

    Returns
    -------
    np.ndarray, shape (..., 1 + n_fft // 2, n_frames), complex64 (complex128 for float64 ``y``)
        ``n_frames = 1 + n // hop_length`` when centred, ``1 + (n - n_fft) // hop_length``
        otherwise. As librosa, the windowed frames and their FFT are float64 (a float32
        FFT's rounding noise, ~1e-9 of the loudest bin, shows in the dB of quiet bands),
        cast to the output dtype; computed :data:`STFT_CHUNK` samples of frames at a
        time with :func:`audiokit.dsp.fft.rfft` (pocketfft either way).
    """
    hop = n_fft // 4 if hop_length is None else hop_length
    if center:
        pad = [(0, 0)] * (y.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        y = np.pad(y, pad, mode=pad_mode)  # type: ignore[call-overload]
    frames = np.lib.stride_tricks.sliding_window_view(y, n_fft, axis=-1)[..., ::hop, :]
    win = _window64(window, n_fft)
    out_dtype = np.complex128 if y.dtype == np.float64 else np.complex64
    out = np.empty((*frames.shape[:-1], 1 + n_fft // 2), dtype=out_dtype)
    step = max(1, STFT_CHUNK // n_fft)
    for i in range(0, frames.shape[-2], step):
        out[..., i : i + step, :] = rfft(frames[..., i : i + step, :] * win, axis=-1)
    return np.swapaxes(out, -1, -2)


#: Samples of windowed frames transformed at a time by :func:`stft` (float64: 8 MB).
STFT_CHUNK = 1 << 20


@functools.lru_cache(maxsize=16)
def _window64(window: str, Nx: int) -> np.ndarray:
    """:func:`get_window` in float64 (librosa multiplies the frames by it in float64)."""
    if window in ("hann", "hanning"):
        k = np.arange(Nx, dtype=np.float64)
        win = 0.5 - 0.5 * np.cos(2.0 * np.pi * k / Nx)
    else:
        from scipy.signal import get_window as scipy_window  # lazy on purpose (see above)

        win = np.asarray(scipy_window(window, Nx, fftbins=True), dtype=np.float64)
    win.setflags(write=False)
    return win


def power_to_db(
    *, S: np.ndarray, ref: Ref = 1.0, amin: float = 1e-10, top_db: float | None = 80.0
) -> np.ndarray:
    """``librosa.power_to_db``: ``10 log10(max(amin, S) / max(amin, ref))``, floored.

    Computed as librosa does, in the dtype of ``S`` (float32 in, float32 out).

    Parameters
    ----------
    S : np.ndarray, any shape
        Power (non-negative).
    ref
        Reference power, or a function of ``S`` giving it (``np.max``).
    top_db
        Floor the result at ``max - top_db``; None: no floor.

    Returns
    -------
    np.ndarray, same shape as ``S``
    """
    if amin <= 0:
        raise ValueError("amin must be strictly positive")
    magnitude = np.asarray(S)
    ref_value = ref(magnitude) if callable(ref) else np.abs(ref)
    log_spec: np.ndarray = 10.0 * np.log10(np.maximum(amin, magnitude))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        if top_db < 0:
            raise ValueError("top_db must be non-negative")
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def amplitude_to_db(
    *, S: np.ndarray, ref: Ref = 1.0, amin: float = 1e-5, top_db: float | None = 80.0
) -> np.ndarray:
    """``librosa.amplitude_to_db``: :func:`power_to_db` of ``|S|**2`` (``ref``, ``amin`` squared).

    Parameters
    ----------
    S : np.ndarray, any shape
        Amplitude (or complex values, whose magnitude is taken).

    Returns
    -------
    np.ndarray, same shape as ``S``, real
    """
    magnitude = np.abs(S)
    ref_value = ref(magnitude) if callable(ref) else np.abs(ref)
    power = np.square(magnitude, out=magnitude)
    return power_to_db(S=power, ref=ref_value**2, amin=amin**2, top_db=top_db)
