"""The output layer under faults: no-clobber commits, sets, sweeps, locks, full disks,
SIGKILL and concurrent runs (audiokit/output/)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from audiokit.errors import LockedError, OutputError
from audiokit.output import files
from audiokit.output.lock import OutputLock, lock_path

EXE = shutil.which("audiokit", path=str(Path(sys.executable).parent)) or shutil.which("audiokit")
needs_exe = pytest.mark.skipif(EXE is None, reason="audiokit executable not installed")
HELLO = Path(__file__).resolve().parent.parent / "sample_data" / "speech" / "hello.wav"


# ---------------------------------------------------------------------------- helpers


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=120, **kw)


def wav(
    path: Path,
    seconds: float = 0.5,
    sr: int = 16000,
    channels: int = 1,
    seed: int = 0,
    subtype: str = "PCM_16",
    silent: bool = False,
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(round(seconds * sr))
    if silent:
        y = np.zeros((n, channels), np.float32)
    else:
        y = 0.2 * np.random.default_rng(seed).standard_normal((n, channels)).astype(np.float32)
    sf.write(path, y, sr, subtype=subtype)
    return path


def wav_dir(d: Path, n: int, **kw) -> Path:
    for i in range(n):
        wav(d / f"f{i:02d}.wav", seed=i, **kw)
    return d


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.fixture
def live_pid():
    p = subprocess.Popen(["sleep", "120"])
    yield p.pid
    p.kill()
    p.wait()


def leftovers(root: Path) -> list[str]:
    """audiokit temporaries and journals anywhere under ``root``."""
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if ".audiokit-" in p.name and (".tmp" in p.name or p.name.endswith(".set.json"))
    )


def snapshot(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def one_error_line(stderr: str, needle: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert needle in lines[0] and "Traceback" not in stderr, stderr
    return lines[0]


# ------------------------------------------------------------------- files: staged/commit


def test_staged_commits_on_success(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with files.staged(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".a.txt.audiokit-")
        assert tmp.name.endswith(".tmp.txt")
        tmp.write_text("new")
        assert not target.exists()
    assert target.read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_staged_leaves_nothing_on_exception(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), files.staged(target, replace=True) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]


def test_staged_turns_oserror_into_one_output_error(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    with pytest.raises(OutputError) as info, files.staged(target):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert str(info.value) == f"{target}: cannot write: no space left on device"
    assert os.listdir(tmp_path) == []


def test_commit_refuses_existing_target_and_keeps_it(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"precious")
    tmp = files.temp_path(target)
    tmp.write_bytes(b"new")
    with pytest.raises(OutputError, match="exists"):
        files.commit(tmp, target, replace=False)
    assert target.read_bytes() == b"precious"
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_commit_refuses_target_created_after_staging_began(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    with pytest.raises(OutputError, match="exists"), files.staged(target) as tmp:
        tmp.write_bytes(b"ours")
        target.write_bytes(b"someone else's")  # appears while we write
    assert target.read_bytes() == b"someone else's"
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_commit_with_replace_replaces(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    tmp = files.temp_path(target)
    tmp.write_bytes(b"new")
    files.commit(tmp, target, replace=True)
    assert target.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["a.bin"]


# ------------------------------------------------------------------------ files: commit_set


def _staged_pairs(d: Path, n: int) -> list[tuple[Path, Path]]:
    pairs = []
    for i in range(n):
        target = d / f"s_{i:03d}.wav"
        tmp = files.temp_path(target)
        tmp.write_bytes(f"segment {i}".encode())
        pairs.append((tmp, target))
    return pairs


def test_commit_set_commits_every_file(tmp_path: Path) -> None:
    pairs = _staged_pairs(tmp_path, 4)
    files.commit_set(pairs, replace=False)
    assert sorted(os.listdir(tmp_path)) == [f"s_{i:03d}.wav" for i in range(4)]
    assert [t.read_bytes() for _, t in pairs] == [f"segment {i}".encode() for i in range(4)]


@pytest.mark.parametrize("existing", [0, 1, 3])
def test_commit_set_with_an_existing_target_undoes_its_commits(
    tmp_path: Path, existing: int
) -> None:
    pairs = _staged_pairs(tmp_path, 4)
    taken = pairs[existing][1]
    taken.write_bytes(b"precious")
    with pytest.raises(OutputError, match="exists"):
        files.commit_set(pairs, replace=False)
    assert sorted(os.listdir(tmp_path)) == [taken.name]
    assert taken.read_bytes() == b"precious"


# ----------------------------------------------------------------------------- files: sweep


def test_sweep_removes_dead_temporaries_only(tmp_path: Path, live_pid: int) -> None:
    dead = dead_pid()
    gone = [
        f".x.png.audiokit-{dead}-abcd.tmp.png",
        f".t.csv.audiokit-{dead}-0123.tmp.csv",
        f".noext.audiokit-{dead}-ff.tmp",
    ]
    kept = [
        f".x.png.audiokit-{live_pid}-abcd.tmp.png",  # a live run's
        f".x.png.audiokit-{os.getpid()}-abcd.tmp.png",  # ours
        ".bashrc",
        ".x.png.audiokit.lock",
        ".t.csv.audiokit-state.json",
        f"x.png.audiokit-{dead}-abcd.tmp.png",  # not hidden: not a name audiokit gives
        f".x.png.audiokit-{dead}-nothex.tmp.png",
        f".x.png.audiokit-{dead}-abcd.tmpfile",
        "x.png",
    ]
    for name in gone + kept:
        (tmp_path / name).write_text(name)
    assert files.sweep(tmp_path) == len(gone)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)
    assert all((tmp_path / n).read_text() == n for n in kept)


def _journal(d: Path, pid: int, n: int, committed: int = 0, replace: bool = False):
    """Temporaries and the journal of a set of ``n`` files, as a run killed after
    committing the last ``committed`` files (commit_set goes last-to-first) leaves them."""
    pairs = []
    for i in range(n):
        target = d / f"a_{i:03d}.wav"
        tmp = d / f".{target.name}.audiokit-{pid}-{i:04x}.tmp.wav"
        pairs.append((tmp, target))
    for i, (tmp, target) in enumerate(pairs):
        (target if i >= n - committed else tmp).write_bytes(f"content {i}".encode())
    journal = d / f".{pairs[0][1].name}.audiokit-{pid}-beef.set.json"
    record = {"replace": replace, "files": [[str(t), str(g)] for t, g in pairs]}
    journal.write_text(json.dumps(record))
    return pairs, journal


@pytest.mark.parametrize("committed", [0, 1, 3])
def test_sweep_finishes_the_set_of_a_dead_run(tmp_path: Path, committed: int) -> None:
    pairs, _ = _journal(tmp_path, dead_pid(), 5, committed)
    files.sweep(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [f"a_{i:03d}.wav" for i in range(5)]
    assert [t.read_bytes() for _, t in pairs] == [f"content {i}".encode() for i in range(5)]


def test_sweep_finishes_a_replacing_set_over_old_files(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"a_{i:03d}.wav").write_bytes(b"old")
    pairs, _ = _journal(tmp_path, dead_pid(), 3, committed=1, replace=True)
    files.sweep(tmp_path)
    assert [t.read_bytes() for _, t in pairs] == [f"content {i}".encode() for i in range(3)]
    assert leftovers(tmp_path) == []


def test_sweep_leaves_the_set_of_a_live_run(tmp_path: Path, live_pid: int) -> None:
    _, journal = _journal(tmp_path, live_pid, 3)
    before = sorted(os.listdir(tmp_path))
    assert files.sweep(tmp_path) == 0
    assert sorted(os.listdir(tmp_path)) == before and journal.exists()


def test_sweep_drops_a_damaged_journal_and_its_temporaries(tmp_path: Path) -> None:
    _, journal = _journal(tmp_path, dead_pid(), 3)
    journal.write_text('{"replace": false, "fil')  # killed while writing it
    files.sweep(tmp_path)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------- OutputLock

_CHILD = """
import sys
from audiokit.errors import LockedError
from audiokit.output.lock import OutputLock
try:
    with OutputLock(sys.argv[1]):
        print("acquired")
except LockedError as exc:
    print("locked:", exc)
"""


def _child_lock(target: Path) -> str:
    res = subprocess.run(
        [sys.executable, "-c", _CHILD, str(target)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_lock_excludes_another_process_until_released(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    lock = OutputLock(target)
    lock.acquire()
    try:
        assert lock_path(target).read_text().strip() == str(os.getpid())
        out = _child_lock(target)
        assert out.startswith("locked:") and f"pid {os.getpid()}" in out, out
    finally:
        lock.release()
    assert not lock_path(target).exists()
    assert _child_lock(target) == "acquired"
    assert os.listdir(tmp_path) == []


def test_lock_of_a_directory_excludes_a_forked_child(tmp_path: Path) -> None:
    import multiprocessing

    out = tmp_path / "out"

    def child(q) -> None:
        try:
            OutputLock(out, directory=True).acquire()
            q.put("acquired")
        except LockedError:
            q.put("LockedError")

    ctx = multiprocessing.get_context("fork")
    with OutputLock(out, directory=True):
        q = ctx.Queue()
        p = ctx.Process(target=child, args=(q,))
        p.start()
        p.join(30)
        assert q.get(timeout=5) == "LockedError"
    assert not (out / ".audiokit.lock").exists()


def test_lock_waits_with_wait(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    holder = OutputLock(target)
    holder.acquire()
    t0 = time.monotonic()
    with pytest.raises(LockedError, match=r"waited 0\.3 s"):
        OutputLock(target, wait=0.3).acquire()
    assert time.monotonic() - t0 >= 0.3
    holder.release()
    with OutputLock(target, wait=0.3):
        pass


@needs_exe
def test_cli_exits_75_on_a_locked_table(tmp_path: Path) -> None:
    wav(tmp_path / "in" / "a.wav")
    out = tmp_path / "t.csv"
    with OutputLock(out):
        res = run("inspect", tmp_path / "in", "-o", out)
    assert res.returncode == 75, res.stderr
    line = one_error_line(res.stderr, "in use by another audiokit run")
    assert "lock" in line and "--wait" in line
    assert not out.exists()
    assert run("inspect", tmp_path / "in", "-o", out).returncode == 0 and out.exists()


# ------------------------------------------------------------------------------- full disk


@pytest.fixture
def tmpfs(tmp_path: Path):
    """A 300 KiB tmpfs (root and a working mount only)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(disk)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.decode().strip()}")
    yield disk
    if subprocess.run(["umount", str(disk)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(disk: Path, leave: int) -> None:
    """Fill ``disk`` up, then free ``leave`` bytes."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave))


def _disk_cases():
    # (name, command making the good outputs, command failing on the full disk)
    return [
        (
            "inspect-jsonl",
            ["inspect", "{few}", "-o", "{d}/inv.jsonl"],
            ["inspect", "{many}", "-o", "{d}/inv.jsonl", "--overwrite"],
        ),
        (
            "inspect-parquet",
            ["inspect", "{few}", "-o", "{d}/inv.parquet"],
            ["inspect", "{many}", "-o", "{d}/inv.parquet", "--overwrite"],
        ),
        (
            "features-csv",
            ["features", "{few}", "-o", "{d}/f.csv"],
            ["features", "{many}", "-o", "{d}/f.csv", "--overwrite"],
        ),
        pytest.param(
            "preprocess",
            ["preprocess", "{small}", "-o", "{d}/out.wav"],
            ["preprocess", "{big}", "-o", "{d}/out.wav", "--overwrite"],
        ),
        (
            "plot",
            ["plot", "{one}", "-o", "{d}/p.png"],
            ["plot", "{other}", "-o", "{d}/p.png", "--overwrite"],
        ),
        (
            "spectrogram-data",
            ["spectrogram", "{one}", "-o", "{d}/s.png", "--data", "{d}/s.npy"],
            ["spectrogram", "{other}", "-o", "{d}/s.png", "--data", "{d}/s.npy", "--overwrite"],
        ),
    ]


@pytest.fixture(scope="module")
def disk_inputs(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("disk_inputs")
    wav_dir(root / "few", 2, seconds=0.25)
    wav_dir(root / "many", 30, seconds=0.25)
    wav(root / "small.wav", 0.05, 48000, 2, subtype="FLOAT")
    wav(root / "big.wav", 5.0, 48000, 2, subtype="FLOAT")  # 1.9 MB: never fits
    return {
        "few": str(root / "few"),
        "many": str(root / "many"),
        "small": str(root / "small.wav"),
        "big": str(root / "big.wav"),
        "one": str(root / "few" / "f00.wav"),
        "other": str(root / "few" / "f01.wav"),
    }


@needs_exe
@pytest.mark.parametrize(("name", "good", "bad"), _disk_cases())
def test_full_tmpfs_keeps_the_old_output(tmpfs: Path, disk_inputs, name, good, bad) -> None:
    fields = {**disk_inputs, "d": str(tmpfs)}
    res = run(*(a.format(**fields) for a in good))
    assert res.returncode == 0, res.stderr
    before = snapshot(tmpfs)
    fill(tmpfs, leave=8192)  # room for the lock file, not for the output
    res = run(*(a.format(**fields) for a in bad))
    assert res.returncode == 1, res.stderr
    one_error_line(res.stderr, "no space left on device")
    after = snapshot(tmpfs)
    after.pop("filler")
    assert after == before
    assert sorted(os.listdir(tmpfs)) == sorted([*before, "filler"])


@needs_exe
@pytest.mark.parametrize(
    "cmd",
    [
        ["plot", "{other}", "-o", "{d}/p.png", "--overwrite"],
        ["spectrogram", "{other}", "-o", "{d}/s.png", "--overwrite"],
    ],
)
def test_full_tmpfs_error_names_the_output_not_the_temporary(tmpfs: Path, disk_inputs, cmd) -> None:
    fields = {**disk_inputs, "d": str(tmpfs)}
    fill(tmpfs, leave=8192)
    res = run(*(a.format(**fields) for a in cmd))
    line = one_error_line(res.stderr, "no space left on device")
    assert ".audiokit-" not in line and f"{tmpfs}/{Path(cmd[3]).name}:" in line, line


@needs_exe
def test_completely_full_tmpfs_fails_in_one_line(tmpfs: Path, disk_inputs) -> None:
    out = tmpfs / "inv.jsonl"
    assert run("inspect", disk_inputs["few"], "-o", out).returncode == 0
    before = snapshot(tmpfs)
    fill(tmpfs, leave=0)
    res = run("inspect", disk_inputs["many"], "-o", out, "--overwrite")
    assert res.returncode == 1
    one_error_line(res.stderr, "no space left on device")
    assert sorted(os.listdir(tmpfs)) == sorted([*before, "filler"])


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("cmd", ["inspect", "features"])
@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_enospc_at_fsync_keeps_the_old_table(runner, cli, tmp_path: Path, monkeypatch, cmd, ext):
    data = wav_dir(tmp_path / "in", 3, seconds=0.25)
    out = tmp_path / "out" / f"t.{ext}"
    res = runner.invoke(cli, [cmd, str(data / "f00.wav"), "-o", str(out), "-j", "1"])
    assert res.exit_code == 0, res.output
    before = snapshot(out.parent)
    monkeypatch.setattr(os, "fsync", _enospc)
    res = runner.invoke(cli, [cmd, str(data), "-o", str(out), "--overwrite", "-j", "1"])
    assert res.exit_code == 1
    assert res.stderr == f"audiokit: {out}: cannot write: no space left on device\n"
    assert snapshot(out.parent) == before


def test_enospc_writing_the_state_companion_leaves_no_temporary(
    runner, cli, tmp_path: Path, monkeypatch
) -> None:
    data = wav_dir(tmp_path / "in", 2, seconds=0.25)
    out = tmp_path / "out" / "t.csv"
    assert runner.invoke(cli, ["inspect", str(data), "-o", str(out), "-j", "1"]).exit_code == 0
    before = snapshot(out.parent)
    real = Path.write_text

    def write_text(self, *a, **k):
        if "audiokit-state" in self.name:
            _enospc()
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "write_text", write_text)
    res = runner.invoke(cli, ["inspect", str(data), "-o", str(out), "--overwrite", "-j", "1"])
    assert res.exit_code == 1
    assert res.stderr == f"audiokit: {out}: cannot write: no space left on device\n"
    assert snapshot(out.parent) == before


# ---------------------------------------------------------------------------------- SIGKILL


def _started(d: Path):
    """The run has begun: its lock or a temporary is in ``d``."""
    return lambda: (
        d.exists()
        and any(p.name.endswith(".audiokit.lock") or ".tmp" in p.name for p in d.iterdir())
    )


def _closing(d: Path):
    """The run is writing its tables out (the rows are buffered until then)."""
    return lambda: any(p.stat().st_size > 0 for p in d.glob(".*.audiokit-*.tmp.*"))


def _kill_during(args: list, ready, delay: float) -> bool:
    """Start ``args``; once ``ready()``, SIGKILL it ``delay`` seconds later.
    Returns whether it was still running then."""
    proc = subprocess.Popen(
        [EXE, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if ready():
                break
        time.sleep(0.001)
    time.sleep(delay)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return running


def _sets(out: Path) -> dict[str, set[str]]:
    groups: dict[str, set[str]] = {}
    for p in out.glob("*.wav"):
        groups.setdefault(p.name.rsplit("_", 1)[0], set()).add(p.name)
    return groups


@needs_exe
def test_sigkill_during_segmenting_leaves_whole_sets(tmp_path: Path) -> None:
    data = wav_dir(tmp_path / "in", 20)  # 0.5 s each: 10 segments of 0.05 s
    ref = tmp_path / "ref"
    args = ["preprocess", data, "--segment", "0.05", "-j", "1", "--json"]
    assert run(*args, "-o", ref).returncode == 0
    expected = _sets(ref)
    assert len(expected) == 20 and all(len(s) == 10 for s in expected.values())
    rng = random.Random(1234)
    killed_mid_run = 0
    for trial in range(4):
        out = tmp_path / f"out{trial}"
        out.mkdir()
        killed_mid_run += _kill_during([*args, "-o", out], _started(out), rng.uniform(0.0, 0.4))
        files.sweep(out)  # what the next run over the directory does first
        for stem, names in _sets(out).items():
            assert names == expected[stem], (trial, stem, sorted(names))
        survivors = {p.name: p.stat().st_ino for p in out.glob("*.wav")}
        res = run(*args, "-o", out, "--skip-existing")
        assert res.returncode == 0, res.stderr
        rewritten = {o for line in res.stdout.splitlines() for o in json.loads(line)["outputs"]}
        assert not {Path(o).name for o in rewritten} & set(survivors)
        assert sorted(p.name for p in out.glob("*.wav")) == sorted(p.name for p in ref.glob("*"))
        assert all((out / n).stat().st_ino == ino for n, ino in survivors.items())
        assert leftovers(out) == []
        assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in ref.iterdir())
    assert killed_mid_run >= 1


def _paths(table: Path) -> set[str]:
    return {json.loads(line)["path"] for line in table.read_text().splitlines() if line}


@needs_exe
def test_sigkill_during_transcribe_never_splits_table_and_summary(tmp_path: Path) -> None:
    data = wav_dir(tmp_path / "in", 6, silent=True)
    shutil.copy(HELLO, data / "hello.wav")
    inputs = {str(p) for p in data.iterdir()}
    old_in = tmp_path / "old"
    wav_dir(old_in, 2, silent=True)
    rng = random.Random(99)
    for trial in (0, 3, 1, 2):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        table, summary = d / "t.jsonl", d / "t.files.jsonl"
        old = None
        if trial % 2:  # an old pair that --overwrite would replace
            assert run("transcribe", old_in, "-o", table, "-j", "1").returncode == 0
            old = (table.read_bytes(), summary.read_bytes())
        extra = ["--overwrite"] if old else []
        # Kill it while it transcribes, or while it writes and commits the tables.
        if trial < 2:
            ready, delay = _started(d), rng.uniform(0.3, 2.0)
        else:
            ready, delay = _closing(d), rng.uniform(0.0, 0.005)
        _kill_during(["transcribe", data, "-o", table, "-j", "1", *extra], ready, delay)
        files.sweep(d)
        assert leftovers(d) == []
        assert table.exists() == summary.exists(), sorted(os.listdir(d))
        if not table.exists():
            assert old is None
            continue
        now = (table.read_bytes(), summary.read_bytes())
        if old is not None and (now[0] == old[0] or now[1] == old[1]):
            assert now == old  # both old, never one old beside one new
            continue
        assert _paths(summary) == inputs
        assert _paths(table) <= _paths(summary) and str(data / "hello.wav") in _paths(table)
        state = json.loads((d / ".t.jsonl.audiokit-state.json").read_text())
        st = table.stat()
        assert state["table"] == [st.st_size, st.st_mtime_ns]


# --------------------------------------------------------------------------- concurrent runs


@needs_exe
def test_concurrent_inspect_to_one_parquet(tmp_path: Path) -> None:
    data = wav_dir(tmp_path / "in", 30, seconds=2.0, sr=44100, channels=2)
    out = tmp_path / "t.parquet"
    variants = {
        "levels": ["inspect", data, "-o", out, "--overwrite", "-j", "1"],
        "headers": ["inspect", data, "-o", out, "--overwrite", "-j", "1", "--no-levels"],
    }
    has_levels = {"levels": True, "headers": False}
    codes = []
    for rep in range(4):
        order = ["levels", "headers"] if rep % 2 == 0 else ["headers", "levels"]
        procs = {
            k: subprocess.Popen(
                [EXE, *map(str, variants[k])],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for k in order
        }
        res = {k: (p.wait(120), p.stderr.read()) for k, p in procs.items()}
        for p in procs.values():
            p.stdout.close()
            p.stderr.close()
        rcs = sorted(rc for rc, _ in res.values())
        codes.append(tuple(rcs))
        assert rcs in ([0, 0], [0, 75]), res
        table = pq.read_table(out)
        assert table.num_rows == 30
        assert sorted(table.column("path").to_pylist()) == sorted(str(p) for p in data.iterdir())
        winners = [k for k, (rc, _) in res.items() if rc == 0]
        if len(winners) == 1:
            assert ("peak_dbfs" in table.column_names) == has_levels[winners[0]]
            loser = next(k for k in res if k not in winners)
            line = one_error_line(res[loser][1], "in use by another audiokit run")
            assert "lock" in line
        assert sorted(os.listdir(tmp_path)) == ["in", "t.parquet"]


@needs_exe
def test_concurrent_preprocess_never_writes_a_file_twice(tmp_path: Path) -> None:
    data = wav_dir(tmp_path / "in", 30, seconds=0.3)
    for rep in range(2):
        out = tmp_path / f"out{rep}"
        cmd = [EXE, "preprocess", str(data), "-o", str(out), "--json", "-j", "1"]
        procs = [
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        results = [p.communicate(timeout=120) for p in procs]
        reported: list[str] = []
        for p, (stdout, stderr) in zip(procs, results, strict=True):
            assert p.returncode in (0, 1, 75), stderr
            assert "Traceback" not in stderr
            if p.returncode == 75:
                assert stdout == "" and "lock" in stderr
            for line in stdout.splitlines():
                reported += json.loads(line)["outputs"]
        assert len(reported) == len(set(reported))  # no file reported by both runs
        assert sorted(Path(r).name for r in reported) == sorted(p.name for p in out.iterdir())
        assert len(reported) == 30
        assert sorted(p.returncode for p in procs)[0] == 0


# ----------------------------------------------------------------- killed runs' temporaries


@needs_exe
def test_plot_removes_dead_temporaries_in_its_directory(tmp_path: Path, live_pid: int) -> None:
    src = wav(tmp_path / "a.wav")
    pics = tmp_path / "pics"
    pics.mkdir()
    dead = pics / f".x.png.audiokit-{dead_pid()}-abcd.tmp.png"
    live = pics / f".x.png.audiokit-{live_pid}-abcd.tmp.png"
    dead.write_bytes(b"half a png")
    live.write_bytes(b"being written")
    res = run("plot", src, "-o", f"{pics}/")
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(pics)) == sorted(["a.waveform.png", live.name])


@needs_exe
def test_table_run_removes_dead_temporaries_beside_the_table(tmp_path: Path, live_pid: int) -> None:
    src = wav(tmp_path / "in" / "a.wav")
    d = tmp_path / "tables"
    d.mkdir()
    dead = d / f".t.csv.audiokit-{dead_pid()}-abcd.tmp.csv"
    live = d / f".t.csv.audiokit-{live_pid}-abcd.tmp.csv"
    dead.write_text("path\n")
    live.write_text("path\n")
    res = run("inspect", src, "-o", d / "t.csv")
    assert res.returncode == 0, res.stderr
    assert sorted(os.listdir(d)) == sorted([".t.csv.audiokit-state.json", "t.csv", live.name])


@needs_exe
def test_stdin_run_removes_dead_spools_in_tmpdir(tmp_path: Path, live_pid: int) -> None:
    src = wav(tmp_path / "a.wav")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    dead = scratch / f"audiokit-stream-{dead_pid()}-xyz.wav"
    dead_dir = scratch / f"audiokit-stdout-{dead_pid()}-xyz"
    live = scratch / f"audiokit-stream-{live_pid}-xyz.wav"
    dead.write_bytes(b"x")
    dead_dir.mkdir()
    (dead_dir / "a.png").write_bytes(b"x")
    live.write_bytes(b"x")
    other = scratch / "unrelated.wav"
    other.write_bytes(b"x")
    env = {**os.environ, "TMPDIR": str(scratch)}
    with open(src, "rb") as stdin:
        res = run("inspect", "-", "--json", stdin=stdin, env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["path"] == "-"
    assert sorted(os.listdir(scratch)) == sorted([live.name, other.name])
