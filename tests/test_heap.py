"""``heap.keep_freed_memory``: freed large arrays are reused instead of faulted in again."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from audiokit import heap

SCRIPT = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    from audiokit import heap
    if sys.argv[1] == "tuned":
        assert heap.keep_freed_memory()
    sizes = [37_000_000, 18_000_000, 8_000_000, 1_000_000]  # a feature block's arrays

    def block():
        arrays = [np.ones(n // 8) for n in sizes]
        del arrays

    block()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        block()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    """
)


def _faults(mode: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    default, tuned = _faults("default"), _faults("tuned")
    # ten rounds of 64 MB: each array a fresh mapping faulted in again (~10,000 faults
    # here, with numpy's transparent huge pages), against none when the heap keeps them
    assert default > 1_000
    assert tuned < default / 10


def test_it_runs_once_and_reports() -> None:
    first = heap.keep_freed_memory()
    assert heap.keep_freed_memory() is first
    assert first is sys.platform.startswith("linux")
