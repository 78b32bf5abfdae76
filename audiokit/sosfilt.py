"""``scipy.signal.sosfilt`` without importing ``scipy.signal``.

Importing ``scipy.signal`` takes 0.8 s (it pulls in scipy.stats and
scipy.optimize), four times what a one-file ``preprocess`` run needs for
everything else, and every ``preprocess`` run measures loudness through a
K-weighting filter. The filter loop itself is scipy's compiled ``_sosfilt``
kernel, which imports in milliseconds: it is loaded here directly and called
exactly as ``scipy.signal.sosfilt`` calls it. If that kernel cannot be loaded
or called (another scipy layout), ``scipy.signal.sosfilt`` is used instead;
the tests compare the two.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@functools.lru_cache(maxsize=1)
def _kernel() -> Callable[..., Any] | None:
    """scipy's compiled ``_sosfilt(sos, x, zi)`` (in place on C-contiguous float64), or None."""
    try:
        import importlib.machinery
        import importlib.util
        import sys
        from pathlib import Path

        import scipy

        name = "scipy.signal._sosfilt"
        if name in sys.modules:  # scipy.signal is already loaded: share its module
            return sys.modules[name]._sosfilt
        folder = Path(scipy.__file__).parent / "signal"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"_sosfilt{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                if spec is None:
                    return None
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                return module._sosfilt
    except Exception:
        return None
    return None


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
    import numpy as np

    kernel = _kernel()
    sos = np.asarray(sos, dtype=np.float64)
    x = np.asarray(x)
    if kernel is None or np.iscomplexobj(x) or (zi is not None and np.iscomplexobj(zi)):
        from scipy.signal import sosfilt as scipy_sosfilt

        return scipy_sosfilt(sos, x, axis=axis, zi=zi)
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
    kernel(np.ascontiguousarray(sos), y, z)
    out = np.moveaxis(y.reshape(x_shape), -1, axis)
    if zi is None:
        return out
    return out, np.moveaxis(z.reshape(z_shape), (-2, -1), (0, axis + 1))
