"""librosa's ``effects`` that audiokit needs, in plain numpy: pre-emphasis.

One pre-emphasis for every command (``spectrogram --preemphasis`` and
``preprocess --preemphasis``, in memory and block by block): the rule and the
signature of :func:`librosa.effects.preemphasis`, tested equal to it.
"""

from __future__ import annotations

from typing import Literal, overload

import numpy as np


@overload
def preemphasis(
    y: np.ndarray,
    *,
    coef: float = ...,
    zi: np.ndarray | float | None = ...,
    return_zf: Literal[False] = ...,
) -> np.ndarray: ...


@overload
def preemphasis(
    y: np.ndarray,
    *,
    coef: float = ...,
    zi: np.ndarray | float | None = ...,
    return_zf: Literal[True],
) -> tuple[np.ndarray, np.ndarray]: ...


def preemphasis(
    y: np.ndarray,
    *,
    coef: float = 0.97,
    zi: np.ndarray | float | None = None,
    return_zf: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``y[n] - coef * y[n-1]`` along the last axis, as :func:`librosa.effects.preemphasis`.

    The filter is ``lfilter([1, -coef], [1], y, zi=zi)``: the first output
    sample is ``y[0] + zi``, and librosa's default state is ``zi = 2*y[0] - y[1]``.
    To filter a stream, pass each block's returned ``zf`` (``-coef * y[-1]``) as
    the next block's ``zi``: the blocks then give the samples of the whole
    signal. (A one-sample signal, which librosa refuses, takes ``zi = y[0]``.)

    Parameters
    ----------
    y : np.ndarray, shape (..., n)
        Float signal (multichannel along the leading axes).
    coef : float
        Pre-emphasis coefficient (0: unchanged; 1: first difference).
    zi : np.ndarray, shape (..., 1), or float, optional
        Initial filter state; None: ``2*y[..., 0] - y[..., 1]``.
    return_zf : bool
        Also return the final state.

    Returns
    -------
    y_out : np.ndarray, shape (..., n), the dtype of ``y`` (float32 for integer input)
    zf : np.ndarray, shape (..., 1)
        Only with ``return_zf=True``.
    """
    dtype = np.result_type(y.dtype, np.float32)
    c = dtype.type(coef)
    if zi is None:
        second = y[..., 1:2] if y.shape[-1] > 1 else y[..., 0:1]
        zi = 2 * y[..., 0:1] - second
    state = np.asarray(zi, dtype=dtype)
    out = np.array(y, dtype=dtype, copy=True)
    if y.shape[-1]:
        out[..., 1:] -= c * y[..., :-1]
        out[..., 0:1] += state
        zf = (-c * y[..., -1:]).astype(dtype)
    else:
        zf = np.broadcast_to(state, (*y.shape[:-1], 1)).astype(dtype)
    if return_zf:
        return out, zf
    return out
