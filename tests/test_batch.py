"""The batch engine: discovery, ordering, parallel runs, failures, output paths."""

from __future__ import annotations

import functools
import io
import os
import threading
import time
from pathlib import Path

import pytest

from audiokit import batch
from audiokit import inputs as paths
from audiokit.errors import DecodeError, UsageError
from audiokit.inputs import Input, discover


def _touch(root: Path, *names: str) -> None:
    for n in names:
        p = root / n
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")


def test_discover_walks_sorted_filters_and_mirrors(tmp_path: Path) -> None:
    _touch(tmp_path, "b/2.wav", "b/1.FLAC", "a/z.ogg", "a/notes.txt", ".hidden/x.wav", "a/.x.wav")
    inputs, problems = discover([str(tmp_path)])
    assert problems == []
    assert [i.rel for i in inputs] == ["a/z.ogg", "b/1.FLAC", "b/2.wav"]
    assert inputs[0].stem == "z"
    only_wav, _ = discover([str(tmp_path)], extensions=paths.parse_extensions("wav"))
    assert [i.rel for i in only_wav] == ["b/2.wav"]


def test_discover_keeps_argument_order_and_dedupes(tmp_path: Path) -> None:
    _touch(tmp_path, "d/1.wav", "d/2.wav", "x.txt")
    d = tmp_path / "d"
    inputs, _ = discover([str(d / "2.wav"), str(d), str(tmp_path / "x.txt")])
    # A file named directly is taken whatever its extension; a file reached twice is listed once.
    assert [Path(i.path).name for i in inputs] == ["2.wav", "1.wav", "x.txt"]


def test_discover_survives_symlink_loops(tmp_path: Path) -> None:
    _touch(tmp_path, "root/sub/a.wav")
    (tmp_path / "root/sub/loop").symlink_to(tmp_path / "root")
    (tmp_path / "root/self").symlink_to(tmp_path / "root/sub")
    inputs, _ = discover([str(tmp_path / "root")])
    assert [Path(i.path).name for i in inputs] == ["a.wav"]


def test_discover_globs_with_relative_paths(tmp_path: Path) -> None:
    _touch(tmp_path, "data/dog/1.wav", "data/cat/2.wav", "data/cat/readme.md")
    inputs, problems = discover([f"{tmp_path}/data/**/*"])
    assert problems == []
    assert [i.rel for i in inputs] == ["cat/2.wav", "dog/1.wav"]


def test_files_from_and_stdin_conflict(tmp_path: Path) -> None:
    _touch(tmp_path, "a.wav", "b.wav")
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'b.wav'}\n\n# skip me\n{tmp_path / 'a.wav'}\n")
    inputs, _ = discover([], files_from=str(listing))
    assert [Path(i.path).name for i in inputs] == ["b.wav", "a.wav"]
    with pytest.raises(UsageError):
        discover(["-"], files_from="-", stdin=io.BytesIO(b""))
    with pytest.raises(UsageError, match="no inputs"):
        discover([])


def test_stdin_is_spooled_to_a_file(tmp_path: Path) -> None:
    inputs, _ = discover(["-"], stdin=io.BytesIO(b"RIFF....WAVEfmt "))
    (inp,) = inputs
    assert inp.display == "-" and inp.path.endswith(".wav")
    assert Path(inp.path).read_bytes() == b"RIFF....WAVEfmt "


def test_a_named_pipe_argument_is_spooled_like_stdin(tmp_path: Path) -> None:
    fifo = tmp_path / "live"
    os.mkfifo(fifo)
    payload = b"fLaC" + bytes(range(256)) * 4
    writer = threading.Thread(target=fifo.write_bytes, args=(payload,))
    writer.start()
    inputs, problems = discover([str(fifo), str(fifo)])
    writer.join(10)
    assert problems == []
    (inp,) = inputs  # read once
    assert inp.display == str(fifo) and inp.rel == "live.flac" and inp.path.endswith(".flac")
    assert Path(inp.path).read_bytes() == payload


def _square(inp: Input) -> int:
    n = int(Path(inp.path).stem)
    if n % 5 == 3:
        raise DecodeError("bad number")
    if n == 7:
        raise ValueError("boom")
    return n * n


@pytest.mark.parametrize("jobs", [1, 2])
def test_run_yields_in_input_order_with_failures(jobs: int) -> None:
    inputs = [Input(f"/x/{i}.wav", f"{i}.wav", f"{i}.wav") for i in range(20)]
    outs = list(batch.run(_square, inputs, jobs=jobs))
    assert [o.input.display for o in outs] == [i.display for i in inputs]
    for i, o in enumerate(outs):
        if i % 5 == 3:
            assert not o.ok and o.reason == "bad number"
        elif i == 7:
            assert not o.ok and o.reason == "ValueError: boom" and "Traceback" in o.detail
        else:
            assert o.ok and o.value == i * i


@pytest.mark.parametrize("jobs", [1, 2])
def test_fail_fast(jobs: int) -> None:
    inputs = [Input(f"/x/{i}.wav", f"{i}.wav", f"{i}.wav") for i in range(40)]
    outs = list(batch.run(_square, inputs, jobs=jobs, fail_fast=True))
    assert [o.ok for o in outs] == [True, True, True, False]


def _pid(inp: Input, extra: int) -> tuple[int, int]:
    time.sleep(0.02)  # long enough for both workers to get tasks
    return os.getpid(), extra


def test_pool_uses_several_processes() -> None:
    inputs = [Input(f"/x/{i}", str(i), str(i)) for i in range(40)]
    outs = list(batch.run(functools.partial(_pid, extra=3), inputs, jobs=2))
    pids = {o.value[0] for o in outs}
    assert len(pids) == 2 and os.getpid() not in pids
    assert {o.value[1] for o in outs} == {3}


def test_discover_skips_this_runs_outputs(tmp_path: Path) -> None:
    _touch(tmp_path, "data/a.wav", "data/clean/a.wav", "data/clean/sub/b.wav", "data/cleaner.wav")
    inputs, _ = discover([str(tmp_path / "data")], exclude=[str(tmp_path / "data/clean")])
    assert [i.rel for i in inputs] == ["a.wav", "cleaner.wav"]
    inputs, _ = discover([f"{tmp_path}/data/**/*.wav"], exclude=[tmp_path / "data/a.wav"])
    assert [i.rel for i in inputs] == ["clean/a.wav", "clean/sub/b.wav", "cleaner.wav"]
    # An output that is the walked tree itself is not excluded: the collision check refuses it.
    inputs, _ = discover([str(tmp_path / "data/clean")], exclude=[str(tmp_path / "data/clean")])
    assert [i.rel for i in inputs] == ["a.wav", "sub/b.wav"]


def test_several_roots_are_mirrored_below_their_common_parent(tmp_path: Path) -> None:
    _touch(tmp_path, "x/s/a.wav", "y/s/a.wav", "x/b.wav")
    one, _ = discover([str(tmp_path / "x")])
    assert [i.rel for i in one] == ["b.wav", "s/a.wav"]  # one root: paths below it
    two, _ = discover([str(tmp_path / "x"), str(tmp_path / "y")])
    assert [i.rel for i in two] == ["x/b.wav", "x/s/a.wav", "y/s/a.wav"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path}/x/s/a.wav\n{tmp_path}/y/s/a.wav\n")
    named, _ = discover([], files_from=str(listing))
    assert [i.rel for i in named] == ["x/s/a.wav", "y/s/a.wav"]
    same_dir, _ = discover([str(tmp_path / "x/s/a.wav"), str(tmp_path / "x/b.wav")])
    assert [i.rel for i in same_dir] == ["s/a.wav", "b.wav"]
