"""Compile librosa's numba kernels once, in the parent, before workers are forked.

librosa compiles its inner loops with numba and keeps the machine code in an
on-disk cache (``cache=True``). Filling that cache from several processes at
once is not safe: when two workers compile the same kernel, the cache can end
up with one process's half of a kernel next to the other's, and the process
that loads the mix dies with a segmentation fault (numba/numba#10128,
librosa/librosa#1998). It strikes on the first parallel run after librosa or
numba is installed or upgraded, and it takes the whole worker down.

So before a pool is forked, the process that forks runs once, on a short probe
signal, the librosa computations its workers will run (each service module
offers a ``warm_up``). That compiles each kernel, or loads it from the cache,
here, in one process; the forked workers inherit the compiled kernels and never
touch numba's cache. It also saves each worker the compile or load time.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Seconds of probe signal: enough for onsets, beats and a voiced pitch track.
PROBE_SECONDS = 3.0


def probe_signal(sr: int, seconds: float = PROBE_SECONDS, channels: int = 1) -> np.ndarray:
    """A short float32 signal on which every analysis takes its full path.

    Quiet seeded noise, a 220 Hz tone with harmonics and a click every 0.5 s,
    with a silent stretch in the middle: it has onsets, beats, a voiced pitch,
    zero crossings, silence to trim and noise to gate.

    Parameters
    ----------
    sr : int
        Sample rate.
    seconds : float
    channels : int
        1 gives shape ``(n,)``; more give ``(channels, n)``.

    Returns
    -------
    np.ndarray of float32, shape (n,) or (channels, n)
    """
    import numpy as np

    n = max(1, int(seconds * sr))
    t = np.arange(n) / sr
    y = 0.01 * np.random.default_rng(0).standard_normal(n)
    y += sum(0.2 / k * np.sin(2 * np.pi * 220.0 * k * t) for k in (1, 2, 3))
    period = max(1, sr // 2)
    y[::period] += 0.8
    y[n // 3 : n // 2] = 0.0
    y = y.astype(np.float32)
    return y if channels == 1 else np.tile(y, (channels, 1))


def run(fn: Callable[[], object] | None) -> None:
    """Run the warm-up ``fn`` now, quietly.

    A warm-up that fails only loses its benefit: the workers then compile for
    themselves, and any real problem is reported for the file that has it.
    """
    if fn is None:
        return
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        fn()
