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
import fcntl
import os
import stat
import sys
import time
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


#: Seconds to wait for another process's warm-up before saying so, and before going on.
LOCK_NOTICE = 10.0
LOCK_TIMEOUT = 300.0


def lock_dir() -> str | None:
    """This user's private directory for locks: ``$XDG_RUNTIME_DIR/audiokit``, else
    ``~/.cache/audiokit`` (``$AUDIOKIT_CACHE_DIR`` first); created 0700, never through a
    symlink and never one that another user owns (None then: no lock)."""

    roots = [os.environ.get("AUDIOKIT_CACHE_DIR"), os.environ.get("XDG_RUNTIME_DIR")]
    roots.append(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))
    for root in roots:
        if not root:
            continue
        path = os.path.join(root, "audiokit") if root != roots[0] else root
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
            st = os.lstat(path)
        except OSError:
            continue

        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o022:
            return path
    return None


@contextlib.contextmanager
def compile_lock(notice: float = LOCK_NOTICE, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold this user's lock for compiling or loading numba kernels.

    Separate audiokit processes (``make -j``, overlapping cron jobs) share numba's
    cache too: each takes this lock around its warm-up, so that only one of them
    touches the cache at a time. The lock lives in a private directory
    (:func:`lock_dir`), so no other user can hold it. A process that waits more than
    ``notice`` seconds says so (one line, with the holder's pid); after ``timeout``
    seconds it goes on without the lock. Without a private directory, nothing is held.
    """
    folder = lock_dir()
    fd = -1
    if folder is not None:
        try:
            path = os.path.join(folder, "numba.lock")
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            fd = -1
    if fd < 0:
        yield
        return
    try:
        start, told = time.monotonic(), False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError:
                waited = time.monotonic() - start
                if waited >= timeout:
                    print(
                        f"audiokit: {path}: still held after {timeout:.0f} s; going on without it",
                        file=sys.stderr,
                    )
                    break
                if waited >= notice and not told:
                    told = True
                    print(
                        f"audiokit: waiting for another audiokit process to compile "
                        f"librosa's kernels (lock {path})",
                        file=sys.stderr,
                    )
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # releases the lock
