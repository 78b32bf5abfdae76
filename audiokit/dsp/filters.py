"""``librosa.filters`` and the frequency conversions: mel and chroma filterbanks, DCT basis.

Slaney's mel scale only (librosa's default, ``htk=False``); filterbanks are cached and
returned read-only.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from audiokit.dsp.util import ArrayLike

# Slaney's mel scale (librosa's default, htk=False).
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(frequencies: ArrayLike) -> np.ndarray:
    """Slaney mel of ``frequencies`` Hz (``librosa.hz_to_mel``), float64, same shape."""
    f = np.asarray(frequencies, dtype=np.float64)
    lin = f / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log, lin)


def mel_to_hz(mels: ArrayLike) -> np.ndarray:
    """Hz of Slaney mels (``librosa.mel_to_hz``), float64, same shape."""
    m = np.asarray(mels, dtype=np.float64)
    return np.where(
        m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m
    )


def mel_frequencies(n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0) -> np.ndarray:
    """``n_mels`` frequencies equally spaced in mel from ``fmin`` to ``fmax`` (librosa's).

    Returns
    -------
    np.ndarray, shape (n_mels,), float64
    """
    return mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels))


@functools.lru_cache(maxsize=16)
def fft_frequencies(*, sr: float = 22050, n_fft: int = 2048) -> np.ndarray:
    """Centre frequencies of the STFT bins (``librosa.fft_frequencies``).

    Returns
    -------
    np.ndarray, shape (1 + n_fft // 2,), float64, read-only (it is cached)
    """
    freqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    freqs.setflags(write=False)
    return freqs


@functools.lru_cache(maxsize=16)
def mel(
    *, sr: float, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney mel filterbank, as ``librosa.filters.mel`` (bit for bit).

    Triangular filters on the Slaney mel scale, area-normalised (``norm="slaney"``);
    ``fmax=None`` means ``sr / 2``.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32, read-only (it is cached)
    """
    fmax = sr / 2.0 if fmax is None else fmax
    fftfreqs = fft_frequencies(sr=sr, n_fft=n_fft)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax)
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
def chroma(*, sr: float, n_fft: int, n_chroma: int = 12, tuning: float = 0.0) -> np.ndarray:
    """Chroma filterbank (``librosa.filters.chroma``; ``ctroct=5``, ``octwidth=2``, L2, from C).

    Parameters
    ----------
    tuning
        Deviation from A440 in fractions of a chroma bin.

    Returns
    -------
    np.ndarray, shape (n_chroma, 1 + n_fft // 2), float32, read-only (it is cached)
    """
    frequencies = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    octs = np.log2(frequencies / (a440 / 16))
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
    out = np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)
    out.setflags(write=False)
    return out


@functools.lru_cache(maxsize=16)
def dct(n_filters: int, n_input: int) -> np.ndarray:
    """Orthonormal DCT-II basis (librosa <= 0.9's ``filters.dct``; ``mfcc``'s transform).

    ``dct(k, n) @ x`` equals ``scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:k]``,
    what ``librosa.feature.mfcc`` computes.

    Returns
    -------
    np.ndarray, shape (n_filters, n_input), float64, read-only (it is cached)
    """
    k = np.arange(n_filters)[:, None]
    i = np.arange(n_input)[None, :]
    basis = np.cos(np.pi * k * (2 * i + 1) / (2 * n_input)) * math.sqrt(2.0 / n_input)
    basis[0] /= math.sqrt(2.0)
    basis.setflags(write=False)
    return basis
