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
The warm-up runs with one job too, under a per-user file lock
(:func:`compile_lock`), so that separate audiokit processes take turns.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Seconds of probe signal: enough for onsets, beats and a voiced pitch track.
PROBE_SECONDS = 1.5


def probe_signal(sr: int, seconds: float = PROBE_SECONDS, channels: int = 1) -> np.ndarray:
    """A short float32 signal on which every analysis takes its full path.

    Quiet seeded noise and a 220 Hz tone with harmonics, silent from 1/3 to 1/2
    of its length, with a click every 0.25 s: it has onsets, beats, a voiced
    pitch, zero crossings, silence to trim and noise to gate.

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
    y[n // 3 : n // 2] = 0.0
    y[:: max(1, sr // 4)] += 0.8
    y = y.astype(np.float32)
    return y if channels == 1 else np.tile(y, (channels, 1))


def run(fn: Callable[[], object] | None) -> None:
    """Run the warm-up ``fn`` now, quietly, holding :func:`compile_lock`.

    A warm-up that fails only loses its benefit: the workers then compile for
    themselves, and any real problem is reported for the file that has it.
    """
    if fn is None:
        return
    with compile_lock(), warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore")
        fn()


@contextlib.contextmanager
def compile_lock() -> Iterator[None]:
    """Hold this user's lock for compiling or loading numba kernels.

    Separate audiokit processes (``make -j``, overlapping cron jobs) share numba's
    cache too: each takes this lock around its warm-up, so that only one of them
    touches the cache at a time. Without ``fcntl``, or when the lock file cannot be
    opened, nothing is held.
    """
    import os
    import tempfile

    try:
        import fcntl

        path = os.path.join(tempfile.gettempdir(), f"audiokit-numba-{os.getuid()}.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except (ImportError, AttributeError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
