"""Faults end as one line: hostile option values, special files, odd names, library noise."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audiokit import warmup
from audiokit.errors import safe_text

EXE = str(Path(sys.executable).parent / "audiokit")


def run(*args: object, env: dict[str, str] | None = None, timeout: float = 60) -> tuple:
    proc = subprocess.run(
        [EXE, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "a.wav"
    t = np.arange(8000) / 8000
    sf.write(path, 0.3 * np.sin(2 * np.pi * 440 * t), 8000)
    return path


HOSTILE = [
    ("features", "--n-fft", "100000000"),
    ("features", "--segment", "1", "--overlap", "0.9999999"),
    ("features", "--n-mels", "100000"),
    ("features", "--sr", "1"),
    ("features", "--fmin", "5000", "--fmax", "100"),
    ("features", "--features", ""),
    ("features", "--n-mels", "2000", "--n-fft", "1024"),
    ("plot", "--n-fft", "100000000"),
    ("spectrogram", "--n-fft", "100000000"),
    ("spectrogram", "--hop-length", "4096", "--n-fft", "1024"),
    ("preprocess", "--sr", "1"),
    ("preprocess", "--sr", "8000", "--highpass", "5000"),
    ("preprocess", "--highpass", "5000", "--lowpass", "100"),
    ("preprocess", "--segment", "0.00001"),
    ("preprocess", "--normalize", "loudness", "--target", "10"),
    ("preprocess", "--normalize", "peak", "--target", "-500"),
    ("preprocess", "--gain", "1000"),
    ("preprocess", "--pad-to", "1e12"),
]


@pytest.mark.parametrize("args", HOSTILE, ids=[" ".join(a) for a in HOSTILE])
def test_hostile_option_values_are_one_line_usage_errors(
    args: tuple[str, ...], wav: Path, tmp_path: Path
) -> None:
    cmd, *rest = args
    out = ["-o", str(tmp_path / "o/")] if cmd in ("plot", "spectrogram", "preprocess") else []
    t0 = time.monotonic()
    code, stdout, err = run(cmd, wav, *out, *rest)
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("audiokit: "), err
    assert "Traceback" not in err and stdout == ""
    assert time.monotonic() - t0 < 10
    assert not (tmp_path / "o").exists()


def test_range_messages_say_the_valid_range(wav: Path) -> None:
    _, _, err = run("preprocess", wav, "-o", "x/", "--normalize", "loudness", "--target", "10")
    assert "use -70 to 0 LUFS" in err
    _, _, err = run("features", wav, "--sr", "1")
    assert "1000 to 768000 Hz" in err


def test_memory_budget_refuses_what_would_not_fit(wav: Path) -> None:
    code, _, err = run("features", wav, "--n-fft", "65536", "--max-memory", "512M")
    assert code == 2 and "per worker, over the budget of 512.0 MiB" in err
    code, out, _ = run("features", wav, "--features", "rms", "--max-memory", "4G")
    assert code == 0 and '"rms_mean"' in out
    # a one-second file padded to 22 hours would be built in memory: refused up front
    code, _, err = run("preprocess", wav, "-o", "x.wav", "--pad-to", "80000", "--max-memory", "1G")
    assert code == 2 and "in memory would need about" in err and not Path("x.wav").exists()


def test_a_fifo_argument_without_a_writer_is_one_line(tmp_path: Path, wav: Path) -> None:
    fifo = tmp_path / "lonely.wav"
    os.mkfifo(fifo)
    t0 = time.monotonic()
    code, out, err = run("inspect", fifo, wav, "--csv", env={"AUDIOKIT_PIPE_TIMEOUT": "1"})
    assert time.monotonic() - t0 < 10
    assert code == 1
    assert err.strip() == f"audiokit: {fifo}: a named pipe with nothing written to it within 1 s"
    assert len(out.splitlines()) == 2  # the header and the good file


def test_special_files_in_a_walk_are_skipped_with_a_note(tmp_path: Path, wav: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(wav, d / "good.wav")
    os.mkfifo(d / "stray.wav")
    code, out, err = run("inspect", d, "--csv", timeout=30)
    assert code == 0
    assert err.strip() == f"audiokit: {d / 'stray.wav'}: skipped: a named pipe, not a file"
    assert len(out.splitlines()) == 2


def test_names_cannot_forge_lines_or_send_escapes(tmp_path: Path) -> None:
    d = tmp_path / "d"
    d.mkdir()
    bad = d / "bad\nfake: second line\x1b[31m.wav"
    bad.write_bytes(b"not audio at all")
    code, _, err = run("inspect", d, "--csv")
    assert code == 1
    assert err.count("\n") == 1 and "\x1b" not in err
    assert "bad\\nfake: second line\\x1b[31m.wav: " in err


def test_safe_text() -> None:
    assert safe_text("plain ünïcode") == "plain ünïcode"
    assert safe_text("a\nb\tc\x1b[0m\x85") == "a\\nb\\tc\\x1b[0m\\x85"
    assert safe_text(b"caf\xe9".decode("utf-8", "surrogateescape")) == "caf\\xe9"


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
def test_ffmpeg_never_reads_a_name_as_a_protocol(tmp_path: Path, wav: Path) -> None:
    m4a = tmp_path / "x.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(m4a)], check=True)
    names = ["concat:x.wav|y.m4a", "pipe:0.m4a", "subfile,,start,0,end,100,,:x.m4a"]
    for name in names:
        shutil.copy(m4a, tmp_path / name)
    code, out, err = run("inspect", *(tmp_path / n for n in names), "--no-levels", "--csv")
    assert code == 0, err
    rows = out.splitlines()[1:]
    assert len(rows) == 3 and all(",M4A,AAC," in r for r in rows)


def test_library_output_becomes_one_warning_line(tmp_path: Path) -> None:
    mp3 = tmp_path / "flipped.mp3"
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    src = tmp_path / "s.wav"
    t = np.arange(44100 * 2) / 44100
    sf.write(src, 0.3 * np.sin(2 * np.pi * 330 * t), 44100)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), str(mp3)], check=True)
    data = bytearray(mp3.read_bytes())
    for i in range(400, len(data), 97):
        data[i] ^= 0xFF
    mp3.write_bytes(bytes(data))
    code, _, err = run("inspect", mp3, "--csv")
    lines = err.splitlines()
    assert code == 0 and len(lines) <= 1
    if lines:  # what libmpg123 printed, summarised
        assert lines[0].startswith(f"audiokit: {mp3}: library output: ")


def test_warm_up_lock_is_private_and_says_when_it_waits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIOKIT_CACHE_DIR", str(tmp_path / "cache"))
    folder = warmup.lock_dir()
    assert folder == str(tmp_path / "cache")
    assert os.stat(folder).st_mode & 0o777 == 0o700
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            os.path.join(folder, "numba.lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with warmup.compile_lock(notice=0.2, timeout=0.6):
            pass
        assert 0.5 < time.monotonic() - t0 < 5
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "waiting for another audiokit" in err[0]
    assert "going on without it" in err[1]


def test_a_symlinked_or_shared_lock_directory_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)
    link = tmp_path / "link"
    link.symlink_to(elsewhere)
    monkeypatch.setenv("AUDIOKIT_CACHE_DIR", str(link))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(elsewhere))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    # The symlinked AUDIOKIT_CACHE_DIR is passed over; a private subfolder of a shared
    # runtime directory is fine...
    assert warmup.lock_dir() == str(elsewhere / "audiokit")
    # ...unless someone planted a link there first.
    (elsewhere / "audiokit").rmdir()
    (elsewhere / "audiokit").symlink_to(tmp_path)
    assert warmup.lock_dir() == str(tmp_path / "home-cache" / "audiokit")


# --------------------------------------------------------------------------- fuzz


def _mutants(sources: list[Path], out: Path, n: int, seed: int = 0) -> list[Path]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(n):
        src = rng.choice(sources)
        data = bytearray(src.read_bytes())
        how = rng.choice(["truncate", "flip", "header", "zero", "splice"])
        if how == "truncate":
            data = data[: rng.randrange(0, max(1, len(data)))]
        elif how == "flip":
            for _ in range(rng.randrange(1, 64)):
                k = rng.randrange(len(data))
                data[k] ^= 1 << rng.randrange(8)
        elif how == "header":
            for _ in range(rng.randrange(1, 8)):
                k = rng.randrange(min(64, len(data)))
                data[k] = rng.randrange(256)
        elif how == "zero":
            a = rng.randrange(len(data))
            data[a : a + rng.randrange(1, 4096)] = bytes(min(4096, len(data) - a))
        else:
            other = rng.choice(sources).read_bytes()
            cut = rng.randrange(len(data))
            data = data[:cut] + other[rng.randrange(len(other)) :][:20000]
        path = out / f"m{i:03d}_{how}{src.suffix}"
        path.write_bytes(bytes(data))
        made.append(path)
    return made


@pytest.mark.slow
def test_fuzzed_files_end_as_success_or_one_clean_line(sample_dir: Path, tmp_path: Path) -> None:
    sources = sorted(p for p in sample_dir.rglob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    mutants = _mutants(sources, tmp_path / "m", 240)
    import csv

    names = {str(p) for p in mutants}
    peak = 0.0
    for command in (["inspect"], ["features", "--features", "mfcc,rms,spectral"]):
        table = tmp_path / "t.csv"
        code, err, maxrss = _run_measured(
            *command, tmp_path / "m", "-j", "2", "-o", table, "--overwrite", timeout=300
        )
        peak = max(peak, maxrss)
        assert code in (0, 1), err
        assert "Traceback" not in err
        lines = err.splitlines()
        assert all(ln.startswith(f"audiokit: {tmp_path}") for ln in lines), err
        notes = (": library output: ", ": warning: ")
        failed = {
            ln[len("audiokit: ") :].split(": ")[0]
            for ln in lines
            if not any(n in ln for n in notes)
        }
        with open(table, newline="") as fh:
            rows = {r["path"] for r in csv.DictReader(fh)}
        assert rows | failed == names and not rows & failed  # each file: a row, or one line
    # memory: the biggest process of the run (audiokit or one of its workers) stayed small
    assert 20 < peak < 500, f"{peak:.0f} MiB"


#: Runs a command and prints its exit code and the ``wait4`` peak RSS (KiB) of it alone.
_MEASURE = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)\n"
)


def _run_measured(*args: object, timeout: float) -> tuple[int, str, float]:
    """Run audiokit; exit code, stderr, and the peak RSS (MiB) of it and its workers alone.

    ``os.wait4`` gives the rusage of that one child and the descendants it waited for (not
    of everything this test process forked before, as ``RUSAGE_CHILDREN`` would). The
    child is started by a fresh interpreter, not by this process: a forked child inherits
    its parent's peak RSS (Linux copies the high-water mark with the address space, and
    ``exec`` keeps it), so a pytest worker that once held 600 MB would be measured instead.
    """
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(
            [sys.executable, "-c", _MEASURE, EXE, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            timeout=timeout,
        )
        code, maxrss = proc.stdout.split()
        err.seek(0)
        return int(code), err.read(), int(maxrss) / 1024


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
@pytest.mark.parametrize("ext", ["m4a", "mp3", "flac", "ogg", "wma"])
def test_standard_input_decodes_what_a_path_does(tmp_path: Path, wav: Path, ext: str) -> None:
    enc = tmp_path / f"x.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(enc)], check=True)
    by_path = run("inspect", enc, "--no-levels", "--json")
    with open(enc, "rb") as fh:
        proc = subprocess.run(
            [EXE, "inspect", "-", "--no-levels", "--json"],
            stdin=fh,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    import json

    a, b = json.loads(by_path[1]), json.loads(proc.stdout)
    for key in ("format", "subtype", "samplerate", "channels", "frames"):
        assert a[key] == b[key], key


def test_table_columns_do_not_depend_on_the_inputs(tmp_path: Path, wav: Path) -> None:
    import pyarrow.parquet as pq

    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, np.zeros((800, 2)) + 0.1, 8000)
    schemas = []
    for order in ([wav, stereo], [stereo, wav]):
        out = tmp_path / f"t{len(schemas)}.parquet"
        assert run("inspect", *order, "-o", out)[0] == 0
        schemas.append(pq.read_schema(out).remove_metadata())
    assert schemas[0].equals(schemas[1])
    assert "channel_levels" not in schemas[0].names
    assert str(schemas[0].field("warnings").type) == "list<element: string>"
