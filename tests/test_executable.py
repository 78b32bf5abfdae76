"""The installed ``audiokit`` executable: pipes, exit codes, signals, no partial outputs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.conftest import have, unknown_length_flac

EXE = shutil.which("audiokit", path=str(Path(sys.executable).parent)) or shutil.which("audiokit")
pytestmark = pytest.mark.skipif(EXE is None, reason="audiokit executable not installed")


def run(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], capture_output=True, text=True, timeout=120, **kw)


def test_help_lists_commands_and_version() -> None:
    res = run("--help")
    assert res.returncode == 0
    assert "inspect" in res.stdout and "Exit codes" in res.stdout
    assert run("--version").stdout.strip().startswith("audiokit, version")
    mod = subprocess.run(
        [sys.executable, "-m", "audiokit", "inspect", "--help"], capture_output=True, text=True
    )
    assert mod.returncode == 0 and "--no-levels" in mod.stdout


def test_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from audiokit.cli import cli\n"
        "try:\n    cli.main(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
        "for name in cli.list_commands(None): cli.get_command(None, name)\n"
        "heavy = [m for m in ('librosa', 'scipy', 'matplotlib', 'faster_whisper', 'pyarrow',"
        " 'numba')"
        " if m in sys.modules]\n"
        "print('HEAVY:' + ','.join(heavy), file=sys.stderr)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "HEAVY:\n" in out.stderr, out.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    res = run("inspect")
    assert res.returncode == 2 and "no inputs" in res.stderr
    assert run("inspect", "--bogus", str(tmp_path)).returncode == 2
    res = run("inspect", str(tmp_path), "-o", str(tmp_path / "x.xlsx"))
    assert res.returncode == 2 and "unknown table format" in res.stderr


def test_mixed_batch_exit_1_and_json(sample_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("nope")
    res = run("inspect", str(sample_dir / "tones"), str(bad), "--json")
    assert res.returncode == 1
    assert [json.loads(x)["path"].split("/")[-1] for x in res.stdout.splitlines()] == [
        "chirp.wav",
        "sine440.wav",
    ]
    assert res.stderr.strip() == (
        f"audiokit: {bad}: not a recognised audio format (corrupt, or not audio)"
    )


@pytest.mark.skipif(not have("sox"), reason="sox not installed")
def test_sox_pipe_into_stdin() -> None:
    sox = subprocess.Popen(
        [
            "sox",
            "-n",
            "-r",
            "16000",
            "-c",
            "2",
            "-b",
            "16",
            "-t",
            "wav",
            "-",
            "synth",
            "1.5",
            "sine",
            "440",
            "gain",
            "-6",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    res = subprocess.run(
        [EXE, "inspect", "-", "--json"],
        stdin=sox.stdout,
        capture_output=True,
        text=True,
        timeout=60,
    )
    sox.wait()
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout)
    assert (row["path"], row["channels"], row["samplerate"], row["frames"]) == (
        "-",
        2,
        16000,
        24000,
    )
    assert row["peak_dbfs"] == pytest.approx(-6.0, abs=0.1)


def test_process_substitution_of_a_flac_written_to_a_pipe(sample_dir: Path, tmp_path: Path) -> None:
    """``audiokit inspect <(sox in.mp3 -t flac -)``: a pipe, holding a FLAC with no length."""
    piped = unknown_length_flac(sample_dir / "noise/pink.flac", tmp_path / "piped.flac")
    res = subprocess.run(
        ["bash", "-c", f'"{EXE}" inspect <(cat "{piped}") --json'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout)
    ref = json.loads(run("inspect", str(sample_dir / "noise/pink.flac"), "--json").stdout)
    assert row["path"].startswith("/dev/fd/")
    for key in ("format", "samplerate", "channels", "frames", "peak_dbfs", "rms_dbfs"):
        assert row[key] == ref[key], key


def test_find_into_files_from(sample_dir: Path) -> None:
    find = subprocess.run(
        ["find", str(sample_dir), "-name", "*.flac"], capture_output=True, text=True
    )
    res = run("inspect", "--files-from", "-", "--json", "--no-levels", input=find.stdout)
    assert res.returncode == 0
    assert sorted(json.loads(x)["path"] for x in res.stdout.splitlines()) == sorted(
        find.stdout.split()
    )


def test_broken_pipe_is_quiet(sample_dir: Path) -> None:
    res = subprocess.run(
        f"'{EXE}' inspect '{sample_dir}' --json | head -1",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert len(res.stdout.splitlines()) == 1
    assert "Traceback" not in res.stderr and "Broken pipe" not in res.stderr


@pytest.mark.parametrize(
    ("sig", "jobs"), [(signal.SIGINT, "1"), (signal.SIGINT, "2"), (signal.SIGTERM, "2")]
)
def test_interrupt_leaves_old_output_and_no_temporary_files(
    sample_dir: Path, tmp_path: Path, sig: int, jobs: str
) -> None:
    # Thousands of tiny files keep the run busy for seconds, with a table half-built.
    data = tmp_path / "in"
    shutil.copytree(sample_dir / "tones", data / "a")
    tiny = (np.zeros(64, np.int16)).tobytes()
    header = _wav_header(len(tiny), 8000)
    (data / "b").mkdir()
    for i in range(8000):
        (data / "b" / f"{i:05d}.wav").write_bytes(header + tiny)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "inventory.parquet"
    run("inspect", str(sample_dir / "noise"), "-o", str(out))
    before = out.read_bytes()
    proc = subprocess.Popen(
        [EXE, "inspect", str(data), "-o", str(out), "--overwrite", "-j", jobs],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20  # until the table is half-built (a busy machine is slow)
    while not any(".tmp" in p.name for p in out_dir.iterdir()) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert out.read_bytes() == before
    assert pq.read_table(out).num_rows == 2
    assert sorted(p.name for p in out_dir.iterdir()) == ["inventory.parquet"]


def _wav_header(data_bytes: int, sr: int) -> bytes:
    """A 16-bit mono WAV header for ``data_bytes`` of samples."""
    import struct

    fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def test_help_lists_every_command_without_importing_them() -> None:
    from audiokit.cli import COMMANDS, SUMMARIES

    assert list(SUMMARIES) == list(COMMANDS)
    code = (
        "import sys; from audiokit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in ('numpy', 'audiokit.cli.train', 'audiokit.cli.features') "
        "if m in sys.modules]\nprint(loaded, file=sys.stderr); sys.exit(1 if loaded else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in COMMANDS)
