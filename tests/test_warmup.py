"""Forked workers never compile librosa's numba kernels: the parent warms them up first.

Two processes filling numba's on-disk cache at once can crash (numba/numba#10128), so
audiokit runs each command's librosa computations once in the parent before forking
(:mod:`audiokit.warmup`). These tests run a real ``-j 2`` batch in a fresh interpreter
and arm tripwires right after the warm-up: any numba compilation (or cache load), or
any new librosa module import, in the workers afterwards is recorded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from audiokit import warmup

SCRIPT = r"""
import os, sys

log, control, args = sys.argv[1], sys.argv[2] == "control", sys.argv[3:]


def note(line):
    with open(log, "a") as f:
        f.write(f"{os.getpid()} {line}\n")


def arm():
    from numba.core.dispatcher import Dispatcher
    from numba.np.ufunc.dufunc import DUFunc
    from numba.np.ufunc.gufunc import GUFunc

    for cls, name in (
        (Dispatcher, "_compile_for_args"),
        (DUFunc, "_compile_for_args"),
        (GUFunc, "_compile_for_argtys"),
    ):
        def spy(self, *a, _orig=getattr(cls, name), **k):
            note(f"compile {getattr(self, '__name__', type(self).__name__)}")
            return _orig(self, *a, **k)

        setattr(cls, name, spy)

    class Imports:
        def find_spec(self, fullname, path=None, target=None):
            if fullname.split(".")[0] == "librosa":
                note(f"import {fullname}")
            return None

    sys.meta_path.insert(0, Imports())
    note("armed")


from audiokit import warmup

real = warmup.run


def run(fn):
    if not control:
        real(fn)
    arm()


warmup.run = run
from audiokit.cli import cli

cli.main(args, prog_name="audiokit")
"""

INPUTS = ("music/melody.ogg", "stereo/pan.wav", "speech/hello.wav")


def _batch(tmp_path: Path, sample_dir: Path, args: list[str], control: bool = False) -> list[str]:
    log = tmp_path / "tripwires.log"
    inputs = [str(sample_dir / p) for p in INPUTS]
    mode = "control" if control else "real"
    command, *options = args
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(log), mode, command, *inputs, *options, "-j", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stderr
    return log.read_text().splitlines() if log.exists() else []


CASES = {
    "features-librosa-groups": [
        "features",
        "--features",
        "cens,tonnetz,hpss,f0",
        "-o",
        "f.parquet",
    ],
    "features-default": ["features", "-o", "f.parquet"],
    "plot-onsets": ["plot", "--kind", "onsets", "-o", "plots/"],
    "plot-zcr": ["plot", "--kind", "zcr", "-o", "plots/"],
    "plot-features": ["plot", "--kind", "features", "-o", "plots/"],
    "plot-mfcc": ["plot", "--kind", "mfcc", "-o", "plots/"],
    "plot-chroma": ["plot", "--kind", "chroma", "-o", "plots/"],
    "preprocess-trim-denoise": ["preprocess", "--trim", "--denoise", "-o", "pre/"],
    "preprocess-remove-silence": ["preprocess", "--remove-silence", "--mono", "-o", "pre/"],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_workers_compile_nothing_after_the_warm_up(tmp_path: Path, sample_dir: Path, case: str):
    lines = _batch(tmp_path, sample_dir, CASES[case])
    events = [line.split(" ", 1)[1] for line in lines]
    assert events[:1] == ["armed"], lines  # the pool was used, and warmed before the fork
    assert events[1:] == [], f"workers compiled or imported after the warm-up: {lines}"


def test_without_the_warm_up_workers_compile(tmp_path: Path, sample_dir: Path) -> None:
    """The tripwires are live: skip the warm-up and each worker compiles for itself."""
    args = ["features", "--features", "cens,f0", "-o", "f.parquet"]
    lines = _batch(tmp_path, sample_dir, args, control=True)
    compiled = {line.split(" ")[2] for line in lines if " compile " in line}
    assert {"_viterbi", "__num_two_factors"} <= compiled, lines
    workers = {line.split(" ")[0] for line in lines if " compile " in line}
    assert len(workers) == 2, lines  # each worker, on its own
    assert any(" import librosa" in line for line in lines)


def test_probe_signal_has_what_the_analyses_need() -> None:
    y = warmup.probe_signal(16000)
    assert y.dtype == np.float32 and y.shape == (24000,)
    assert np.all(y[8001:12000] == 0)  # silence to trim (a click at 8000)
    assert np.count_nonzero(np.abs(y) > 0.5) == 6  # clicks: onsets and beats
    assert warmup.probe_signal(16000, channels=2).shape == (2, 24000)
    np.testing.assert_array_equal(warmup.probe_signal(8000), warmup.probe_signal(8000))


def test_warm_ups_of_separate_processes_take_turns() -> None:
    import threading

    order: list[str] = []
    with warmup.compile_lock():  # another process's warm-up, as far as flock is concerned
        t = threading.Thread(target=warmup.run, args=(lambda: order.append("second"),))
        t.start()
        t.join(0.5)
        assert t.is_alive() and order == []  # waiting for the lock
        order.append("first")
    t.join(10)
    assert order == ["first", "second"]


def test_a_failing_warm_up_is_left_to_the_workers() -> None:
    def boom() -> None:
        raise RuntimeError("no")

    warmup.run(boom)  # does not raise
    warmup.run(None)
