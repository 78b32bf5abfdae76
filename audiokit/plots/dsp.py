"""Small numpy re-implementations of the librosa pieces the pictures need.

``librosa``'s STFT, ``power_to_db``, Slaney mel filterbank and pre-emphasis,
written in numpy so that drawing a waveform or a spectrogram does not import
librosa (its import alone costs ~2 s and ~190 MB per process, numba included).
Each function follows librosa 0.11's code and defaults; the tests compare
them against librosa.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Slaney's mel scale (librosa's default, htk=False).
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def window(name: str, n: int) -> np.ndarray:
    """Periodic window of length ``n`` (``scipy.signal.get_window(name, n, fftbins=True)``).

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    import numpy as np

    if name in ("hann", "hanning"):
        k = np.arange(n, dtype=np.float64)
        return (0.5 - 0.5 * np.cos(2.0 * np.pi * k / n)).astype(np.float32)
    from scipy.signal import get_window

    return np.asarray(get_window(name, n, fftbins=True), dtype=np.float32)


def stft_power(seg: np.ndarray, n_fft: int, hop: int, win: np.ndarray) -> np.ndarray:
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


def power_to_db(s: np.ndarray, top_db: float | None = 80.0, amin: float = 1e-10
                ) -> np.ndarray:
    """``librosa.power_to_db(s, ref=np.max, amin=amin, top_db=top_db)``."""
    import numpy as np

    s = np.asarray(s, dtype=np.float64)
    ref = float(np.max(s))
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
    return np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)),
                    _F_SP * m)


def mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies equally spaced in mel from ``fmin`` to ``fmax`` (librosa's)."""
    import numpy as np

    return np.asarray(mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n)))


def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)``.

    Triangular filters, Slaney mel scale and area normalisation.

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2), float32
    """
    import numpy as np

    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_frequencies(n_mels + 2, fmin, fmax)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:n_mels] / fdiff[:n_mels, None]
    upper = ramps[2 : n_mels + 2] / fdiff[1 : n_mels + 1, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels])
    return (weights * enorm[:, None]).astype(np.float32)


def preemphasis(y: np.ndarray, coef: float, zi: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.effects.preemphasis(y, coef=coef, zi=zi, return_zf=True)`` along the last axis.

    ``y[n] - coef * y[n-1]``; the first output sample adds the filter state
    ``zi`` (librosa's default: ``2 * y[0] - y[1]``). Feed blocks one after the
    other, passing each returned ``zf`` as the next ``zi``.

    Returns
    -------
    y_out : np.ndarray, same shape as ``y``
    zf : np.ndarray, shape (..., 1)
    """
    import numpy as np

    if zi is None:
        zi = 2 * y[..., 0:1] - y[..., 1:2]
    out = y.astype(np.float32, copy=True)
    out[..., 1:] -= coef * y[..., :-1]
    out[..., 0:1] += zi
    return out, (-coef * y[..., -1:]).astype(np.float32)
