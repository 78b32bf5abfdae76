"""Keep freed memory for reuse: glibc's malloc tuned for large, short-lived arrays.

By default glibc serves allocations above a (dynamic) threshold of at most 32 MB with
fresh ``mmap`` pages and returns them to the system on ``free``. Every feature block,
STFT chunk and filter product then faults its pages in again: on a 10-minute file that
was ~50,000 page faults per pass and a third of the CPU time spent in the kernel.
:func:`keep_freed_memory` raises the mmap and trim thresholds so that freed arrays stay
in the heap and the next block reuses them. The peak stays what the computation needs
(arrays are still freed; the heap keeps at most its high-water mark).

Linux/glibc only; elsewhere (or with another C library) it does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import sys

#: ``mallopt`` parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

#: Allocations above this still get their own mapping (returned at once when freed).
MMAP_THRESHOLD = 256 * 2**20
#: Free memory at the top of the heap kept rather than returned to the system.
TRIM_THRESHOLD = 512 * 2**20
#: Extra heap requested per growth (fewer brk calls).
TOP_PAD = 16 * 2**20


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Tune this process's malloc (once); True when it took effect.

    Forked children inherit the setting.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and ok
    return mallopt(M_TOP_PAD, TOP_PAD) == 1 and ok
