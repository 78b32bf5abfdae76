"""``librosa.util`` and ``librosa.zero_crossings``: normalisation and the zero-crossing rule."""

from __future__ import annotations

from typing import Any

import numpy as np

#: What the frequency conversions accept: a number or an array of them.
ArrayLike = Any


def normalize(S: np.ndarray, *, norm: float = np.inf, axis: int = 0) -> np.ndarray:
    """``librosa.util.normalize(S, norm=norm, axis=axis)`` for ``norm`` inf or 1.

    Slices whose norm is below the smallest normal number of ``S``'s dtype (librosa's
    ``threshold=None``) are left as they are (``fill=None``).

    Parameters
    ----------
    S : np.ndarray, real, any shape

    Returns
    -------
    np.ndarray, same shape and dtype as ``S``
    """
    mag = np.abs(S)
    if norm == np.inf:
        length = mag.max(axis=axis, keepdims=True)
    elif norm == 1:
        length = mag.sum(axis=axis, keepdims=True)
    else:
        raise ValueError(f"unsupported norm {norm!r} (use np.inf or 1)")
    tiny = np.finfo(S.dtype).tiny
    length = np.where(length < tiny, 1.0, length).astype(S.dtype)
    return S / length


def negative(y: np.ndarray, threshold: float = 1e-10) -> np.ndarray:
    """librosa's sign rule for zero crossings: ``|y| <= threshold`` is zero, zero is positive.

    Returns
    -------
    np.ndarray of bool, same shape as ``y``: True where the sample counts as negative.
    """
    return np.signbit(np.where(np.abs(y) <= threshold, 0.0, y))


def zero_crossings(*, y: np.ndarray, threshold: float = 1e-10, pad: bool = True) -> np.ndarray:
    """``librosa.zero_crossings(y, threshold=threshold, pad=pad)`` along the last axis.

    Parameters
    ----------
    y : np.ndarray, shape (..., n)

    Returns
    -------
    np.ndarray of bool, shape (..., n): ``True`` at ``i`` when the sign of ``y[i]`` differs
    from that of ``y[i - 1]`` (index 0 is ``pad``).
    """
    neg = negative(y, threshold)
    out = np.empty(y.shape, dtype=bool)
    out[..., 1:] = neg[..., 1:] != neg[..., :-1]
    out[..., 0] = pad
    return out
