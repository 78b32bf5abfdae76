"""The process pool: dead workers fail only their input, workers die with the parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from audiokit import batch, pool
from audiokit.inputs import Input

ROOT = Path(__file__).resolve().parent.parent
EXE = str(Path(sys.executable).parent / "audiokit")


def _die_on(inp: Input) -> str:
    name = Path(inp.path).stem
    if name == "poison":
        os.kill(os.getpid(), signal.SIGKILL)
    if name.startswith("once") and not Path(inp.path + ".seen").exists():
        Path(inp.path + ".seen").touch()  # dies the first time only
        os.kill(os.getpid(), signal.SIGKILL)
    return name


def _inputs(tmp_path: Path, names: list[str]) -> list[Input]:
    return [Input(str(tmp_path / f"{n}.wav"), f"{n}.wav", f"{n}.wav") for n in names]


def test_a_killed_worker_fails_only_its_input_after_one_retry(tmp_path: Path) -> None:
    names = [f"ok{i}" for i in range(10)] + ["poison"] + [f"ok{i}" for i in range(10, 30)]
    outs = list(batch.run(_die_on, _inputs(tmp_path, names), jobs=2))
    assert [o.input.display for o in outs] == [f"{n}.wav" for n in names]  # order kept
    bad = [o for o in outs if not o.ok]
    assert [o.input.display for o in bad] == ["poison.wav"]
    assert bad[0].reason == "worker killed by signal 9 (out of memory?)"
    assert [o.value for o in outs if o.ok] == [n for n in names if n != "poison"]


def test_an_input_whose_worker_died_once_succeeds_on_the_retry(tmp_path: Path) -> None:
    names = ["a", "once1", "b", "c", "once2", "d"]
    outs = list(batch.run(_die_on, _inputs(tmp_path, names), jobs=2))
    assert [o.ok for o in outs] == [True] * 6
    assert [o.value for o in outs] == names


def _square(x: int) -> int:
    return x * x


def test_imap_reads_lazily_within_its_window() -> None:
    read: list[int] = []

    def items():
        for i in range(100):
            read.append(i)
            yield i

    it = pool.imap(_square, items(), 2, window=4)
    first = next(it)
    assert first == (0, 0) and len(read) <= 6  # the window bounds what is read ahead
    rest = list(it)
    assert [r for _, r in [first, *rest]] == [i * i for i in range(100)]


def test_death_reasons() -> None:
    assert pool.death_reason(-9) == "worker killed by signal 9 (out of memory?)"
    assert pool.death_reason(-11) == "worker killed by signal 11 (SIGSEGV)"
    assert pool.death_reason(3) == "worker exited with status 3"


def _clips(folder: Path, n: int, seconds: float = 0.5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(8000 * seconds)) / 8000
    for i in range(n):
        sf.write(folder / f"c{i:03d}.wav", (0.3 * np.sin(2 * np.pi * 300 * t)), 8000)
    return folder


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def test_sigkill_of_one_worker_mid_batch_loses_only_its_input(tmp_path: Path) -> None:
    n = 200
    data = _clips(tmp_path / "d", n, seconds=1.0)
    out = tmp_path / "t.csv"
    proc = subprocess.Popen(
        [EXE, "features", str(data), "-o", str(out), "-j", "2", "--features", "mfcc,rms"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    victims: list[int] = []
    deadline = time.monotonic() + 20
    while len(victims) < 2 and time.monotonic() < deadline:
        victims = _children(proc.pid)
        time.sleep(0.01)
    assert len(victims) == 2, "no pool seen"
    time.sleep(0.2)
    os.kill(victims[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode in (0, 1), err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln]
    assert len(lines) <= 1 and all("worker killed by signal 9" in ln for ln in lines)
    rows = out.read_text().splitlines()[1:]
    paths = [r.split(",")[0] for r in rows]
    assert len(paths) == len(set(paths)) and len(paths) >= n - 1  # no duplicates, one lost at most
    if proc.returncode == 0:  # the retry saved it
        assert len(paths) == n


def test_workers_die_with_a_killed_parent(tmp_path: Path) -> None:
    data = _clips(tmp_path / "d", 400, seconds=2.0)
    proc = subprocess.Popen(
        [EXE, "preprocess", str(data), "-o", str(tmp_path / "o"), "--sr", "16000", "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    deadline = time.monotonic() + 20
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = _children(proc.pid)
        time.sleep(0.02)
    assert workers
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 5
    alive = workers
    while alive and time.monotonic() < deadline:
        alive = [w for w in alive if Path(f"/proc/{w}").exists() and not _zombie(w)]
        time.sleep(0.05)
    assert alive == []


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def test_sigint_stops_a_pool_within_two_seconds(tmp_path: Path) -> None:
    data = _clips(tmp_path / "d", 400, seconds=2.0)
    proc = subprocess.Popen(
        [EXE, "preprocess", str(data), "-o", str(tmp_path / "o"), "--sr", "16000", "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
    _, err = proc.communicate(timeout=10)
    assert time.monotonic() - t0 < 2.0
    assert proc.returncode == 130 and "Traceback" not in err
    leftovers = [p for p in (tmp_path / "o").rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_a_parent_that_ignores_sigint_finishes_its_batch(tmp_path: Path) -> None:
    data = _clips(tmp_path / "d", 200, seconds=1.0)
    script = textwrap.dedent(
        f"""
        import signal, subprocess, sys
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for `cmd &` in a script
        sys.exit(subprocess.call([{EXE!r}, "features", {str(data)!r}, "-j", "2",
                                  "--features", "mfcc", "-o", {str(tmp_path / "t.csv")!r}]))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert len((tmp_path / "t.csv").read_text().splitlines()) == 201
