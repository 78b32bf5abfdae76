"""``scipy.signal.sosfilt`` without importing ``scipy.signal``.

Importing ``scipy.signal`` takes 0.6-1.0 s (it pulls in scipy.stats and
scipy.optimize; measured with ``python -X importtime``), more than a one-file
``preprocess`` run needs for everything else, and every ``preprocess`` run
measures loudness through a K-weighting filter. The filter loop itself is
scipy's compiled ``_sosfilt`` kernel, which loads in ~20 ms: it is loaded here
directly and called exactly as ``scipy.signal.sosfilt`` calls it.

That kernel is private to scipy, so it is used only behind two guards:

- at load, it must reproduce a plain-numpy biquad on a probe signal
  (:func:`_self_test`), else it is not used;
- a call that raises anything but a result (another signature in another
  scipy) falls back for good to ``scipy.signal.sosfilt``.

The tests run both paths and compare them with scipy's public function.
"""

from __future__ import annotations

import functools
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_MODULE = "scipy.signal._sosfilt"

#: Set when a call of the kernel failed: the public function is used from then on.
_failed = False


def _load() -> Callable[..., Any] | None:
    """scipy's compiled ``_sosfilt(sos, x, zi)`` (in place on C-contiguous float64), or None."""
    if _MODULE in sys.modules:  # scipy.signal is already loaded: share its module
        return getattr(sys.modules[_MODULE], "_sosfilt", None)
    import scipy

    folder = Path(scipy.__file__).parent / "signal"
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = folder / f"_sosfilt{suffix}"
        if path.is_file():
            loader = importlib.machinery.ExtensionFileLoader(_MODULE, str(path))
            spec = importlib.util.spec_from_file_location(_MODULE, path, loader=loader)
            if spec is None:
                return None
            module = importlib.util.module_from_spec(spec)
            loader.exec_module(module)
            return getattr(module, "_sosfilt", None)
    return None


def _reference(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Direct form II transposed, section after section, in plain Python (probe-sized inputs)."""
    y = x.astype(np.float64).copy()
    for b0, b1, b2, _, a1, a2 in sos:
        z1 = z2 = 0.0
        for i, v in enumerate(y.tolist()):
            out = b0 * v + z1
            z1 = b1 * v - a1 * out + z2
            z2 = b2 * v - a2 * out
            y[i] = out
    return y


def _self_test(kernel: Callable[..., Any]) -> bool:
    """Whether ``kernel`` filters a probe as :func:`_reference` does."""
    sos = np.array([[0.2, 0.4, 0.2, 1.0, -0.5, 0.25], [1.0, -1.9, 0.95, 1.0, -1.8, 0.85]])
    x = np.sin(np.arange(64) * 0.3) + (np.arange(64) == 5)
    y = np.array(x[None], dtype=np.float64, order="C")
    z = np.zeros((1, len(sos), 2))
    kernel(sos, y, z)
    return bool(np.allclose(y[0], _reference(sos, x), rtol=1e-10, atol=1e-12))


@functools.lru_cache(maxsize=1)
def _kernel() -> Callable[..., Any] | None:
    """The checked kernel, or None (then :func:`sosfilt` is ``scipy.signal.sosfilt``)."""
    try:
        kernel = _load()
        return kernel if kernel is not None and _self_test(kernel) else None
    except Exception:  # another scipy layout or signature: the public function it is
        return None


def _fail() -> None:
    global _failed
    _failed = True


def _scipy_sosfilt(sos: np.ndarray, x: np.ndarray, axis: int, zi: np.ndarray | None) -> Any:
    from scipy.signal import sosfilt as scipy_sosfilt  # the fallback: 0.6-1 s to import

    return scipy_sosfilt(sos, x, axis=axis, zi=zi)


def sosfilt(sos: np.ndarray, x: np.ndarray, axis: int = -1, zi: np.ndarray | None = None) -> Any:
    """Filter ``x`` with second-order sections, as ``scipy.signal.sosfilt``.

    Parameters
    ----------
    sos : np.ndarray, shape (n_sections, 6)
    x : np.ndarray
        Real signal; filtered along ``axis`` in float64.
    axis : int
    zi : np.ndarray, shape (n_sections, ..., 2), optional
        Initial state (``x.shape`` with ``axis`` replaced by 2, after the sections).

    Returns
    -------
    y : np.ndarray, float64, shape of ``x``
        And, when ``zi`` is given, the final state ``zf`` of the shape of ``zi``.
    """
    kernel = None if _failed else _kernel()
    sos = np.asarray(sos, dtype=np.float64)
    x = np.asarray(x)
    if kernel is None or np.iscomplexobj(x) or (zi is not None and np.iscomplexobj(zi)):
        return _scipy_sosfilt(sos, x, axis, zi)
    n_sections = sos.shape[0]
    axis %= x.ndim
    state_shape = list(x.shape)
    state_shape[axis] = 2
    state = (
        np.zeros((n_sections, *state_shape))
        if zi is None
        else np.array(zi, dtype=np.float64, copy=True)
    )
    if state.shape != (n_sections, *state_shape):
        raise ValueError(f"zi must have shape {(n_sections, *state_shape)}, got {state.shape}")
    moved = np.moveaxis(x, axis, -1)
    z = np.moveaxis(state, (0, axis + 1), (-2, -1))
    x_shape, z_shape = moved.shape, z.shape
    y = np.array(moved.reshape(-1, moved.shape[-1]), dtype=np.float64, order="C")
    z = np.ascontiguousarray(z.reshape(-1, n_sections, 2))
    try:
        kernel(np.ascontiguousarray(sos), y, z)
    except Exception:  # the private kernel changed: the public function from now on
        _fail()
        return _scipy_sosfilt(sos, x, axis, zi)
    out = np.moveaxis(y.reshape(x_shape), -1, axis)
    if zi is None:
        return out
    return out, np.moveaxis(z.reshape(z_shape), (-2, -1), (0, axis + 1))
