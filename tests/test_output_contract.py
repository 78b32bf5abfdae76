"""The output contract shared by every command: existing outputs, --overwrite/--skip-existing/
--update/--prune, standard output, names, locks, streams, and make."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from click.testing import CliRunner
from PIL import Image

from audiokit.cli import cli
from audiokit.output.lock import OutputLock

EXE = shutil.which("audiokit", path=str(Path(sys.executable).parent)) or shutil.which("audiokit")
needs_exe = pytest.mark.skipif(EXE is None, reason="audiokit executable not installed")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INSPECT_COLUMNS = [
    "path", "format", "subtype", "bit_depth", "samplerate", "channels", "frames", "duration",
    "size_bytes", "bitrate", "peak_dbfs", "rms_dbfs", "crest_factor_db", "dc_offset",
    "clipped_fraction", "silent_fraction", "warnings",
]  # fmt: skip
FEATURES = ("--features", "rms,zcr")  # small and fast feature set


# ----------------------------------------------------------------------------- helpers


def tone(path: Path, freq: float = 440.0, sr: int = 16000, dur: float = 0.4, amp: float = 0.5):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * dur)) / sr
    sf.write(path, (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32), sr)
    return path


def silence(path: Path, sr: int = 16000, dur: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(sr * dur), dtype=np.float32), sr)
    return path


def corrupt(path: Path, size: int = 400) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((b"this is not audio at all " * (size // 25 + 1))[:size])
    return path


def garble_keep_stat(path: Path) -> None:
    """Replace the content by garbage of the same size, keeping the modification time."""
    st = os.stat(path)
    path.write_bytes(bytes((i * 37 + 11) % 256 for i in range(st.st_size)))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_size == st.st_size


def touch_later(path: Path, seconds: float = 10.0) -> None:
    st = os.stat(path)
    later = st.st_mtime_ns + int(seconds * 1e9)
    os.utime(path, ns=(later, later))


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def ak(runner: CliRunner, *args, input=None):
    return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def err_lines(res) -> list[str]:
    return [line for line in res.stderr.splitlines() if line.strip()]


def error_lines(res) -> list[str]:
    """stderr lines that report a failure (not the per-file "x -> y" lines)."""
    return [line for line in err_lines(res) if line.startswith("audiokit: ") and " -> " not in line]


def read_csv(path: Path, delimiter: str = ",") -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter=delimiter))


def read_rows(path: Path) -> list:
    """The rows of a table file, in order, as comparable Python values."""
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pylist()
    if path.suffix == ".jsonl":
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    return read_csv(path, "\t" if path.suffix == ".tsv" else ",")


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def is_png(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return im.size


@pytest.fixture
def two(tmp_path: Path) -> Path:
    """tmp_path/d with a.wav and b.wav."""
    d = tmp_path / "d"
    tone(d / "a.wav", 440)
    tone(d / "b.wav", 880)
    return d


# ------------------------------------------------------- 1. existing table outputs


@pytest.mark.parametrize("name", ["t.csv", "t.parquet", "t.jsonl", "t.tsv"])
def test_inspect_existing_table_refused_before_work(runner, tmp_path, two, name):
    out = tmp_path / name
    assert ak(runner, "inspect", two, "-o", out, "-j", 1).exit_code == 0
    before = out.read_bytes()
    bad = corrupt(tmp_path / "bad.wav")
    res = ak(runner, "inspect", two, bad, "-o", out, "-j", 1)
    assert res.exit_code == 2
    lines = err_lines(res)
    assert len(lines) == 1, lines  # no per-input line for bad.wav: refused before any work
    assert lines[0].startswith(f"audiokit: {out}: exists (")
    assert out.read_bytes() == before


def test_features_existing_parquet_refused_before_work(runner, tmp_path, two):
    out = tmp_path / "t.parquet"
    assert ak(runner, "features", two, "-o", out, *FEATURES, "-j", 1).exit_code == 0
    before = out.read_bytes()
    bad = corrupt(tmp_path / "bad.wav")
    res = ak(runner, "features", two, bad, "-o", out, *FEATURES, "-j", 1)
    assert res.exit_code == 2
    lines = err_lines(res)
    assert len(lines) == 1 and lines[0].startswith(f"audiokit: {out}: exists ("), lines
    assert out.read_bytes() == before


def test_preprocess_existing_report_refused_before_work(runner, tmp_path, two):
    report = tmp_path / "r.csv"
    res = ak(runner, "preprocess", two, "-o", tmp_path / "c1/", "--sr", 8000, "--report", report)
    assert res.exit_code == 0, res.stderr
    before = report.read_bytes()
    res = ak(runner, "preprocess", two, "-o", tmp_path / "c2/", "--sr", 8000, "--report", report)
    assert res.exit_code == 2
    lines = err_lines(res)
    assert len(lines) == 1 and lines[0].startswith(f"audiokit: {report}: exists ("), lines
    assert report.read_bytes() == before
    assert not (tmp_path / "c2").exists() or not any((tmp_path / "c2").rglob("*.wav"))


def test_transcribe_table_and_companion_written_then_refused(runner, tmp_path):
    d = tmp_path / "d"
    silence(d / "s1.wav")
    silence(d / "s2.wav")
    out = tmp_path / "t.jsonl"
    res = ak(runner, "transcribe", d, "-o", out, "-j", 1)
    assert res.exit_code == 0, res.stderr
    companion = tmp_path / "t.files.jsonl"
    assert out.exists() and companion.exists()
    summary = read_rows(companion)
    assert sorted(Path(r["path"]).name for r in summary) == ["s1.wav", "s2.wav"]
    assert all(r["text"].strip() == "" for r in summary)
    before = (out.read_bytes(), companion.read_bytes())
    res = ak(runner, "transcribe", d, "-o", out, "-j", 1)
    assert res.exit_code == 2
    lines = err_lines(res)
    assert len(lines) == 1 and lines[0].startswith("audiokit: ") and ": exists (" in lines[0]
    assert (out.read_bytes(), companion.read_bytes()) == before
    silence(d / "s3.wav")
    res = ak(runner, "transcribe", d, "-o", out, "--update", "-j", 1)
    assert res.exit_code == 0, res.stderr
    full = tmp_path / "full.jsonl"
    assert ak(runner, "transcribe", d, "-o", full, "-j", 1).exit_code == 0
    assert companion.read_bytes() == (tmp_path / "full.files.jsonl").read_bytes()
    assert out.read_bytes() == full.read_bytes()
    assert [Path(r["path"]).name for r in read_rows(companion)] == ["s1.wav", "s2.wav", "s3.wav"]


def test_transcribe_existing_companion_alone_refuses_table(runner, tmp_path):
    s = silence(tmp_path / "s.wav")
    (tmp_path / "t.files.jsonl").write_text("{}\n")
    res = ak(runner, "transcribe", s, "-o", tmp_path / "t.jsonl")
    assert res.exit_code == 2
    assert ": exists (" in res.stderr
    assert not (tmp_path / "t.jsonl").exists()
    assert (tmp_path / "t.files.jsonl").read_text() == "{}\n"


# ---------------------------------------------------- 1. existing per-file outputs

PER_FILE = {
    "plot": (["plot"], "a.waveform.png"),
    "spectrogram": (["spectrogram"], "a.spectrogram.png"),
    "preprocess": (["preprocess", "--sr", "8000"], "a.wav"),
}


def check_output(name: str, data: bytes) -> None:
    if name.endswith(".png"):
        is_png(data)
    elif name.endswith(".wav"):
        y, sr = sf.read(io.BytesIO(data))
        assert sr == 8000 and len(y) > 0
    else:
        data.decode("utf-8")


@pytest.mark.parametrize("cmd", sorted(PER_FILE))
def test_per_file_existing_output_fails_that_input_only(runner, tmp_path, two, cmd):
    args, first = PER_FILE[cmd]
    out = tmp_path / "out"
    out.mkdir()
    (out / first).write_bytes(b"precious")
    res = ak(runner, *args, two, "-o", f"{out}/", "-j", 1)
    assert res.exit_code == 1
    lines = error_lines(res)
    assert len(lines) == 1, lines
    assert lines[0].startswith("audiokit: ") and f"{out / first}: exists (" in lines[0]
    assert (out / first).read_bytes() == b"precious"
    other = first.replace("a.", "b.", 1)
    check_output(other, (out / other).read_bytes())


@pytest.mark.parametrize("cmd", sorted(PER_FILE))
def test_per_file_overwrite_replaces(runner, tmp_path, two, cmd):
    args, first = PER_FILE[cmd]
    out = tmp_path / "out"
    out.mkdir()
    (out / first).write_bytes(b"precious")
    res = ak(runner, *args, two, "-o", f"{out}/", "-j", 1, "--overwrite")
    assert res.exit_code == 0, res.stderr
    check_output(first, (out / first).read_bytes())
    check_output(first, (out / first.replace("a.", "b.", 1)).read_bytes())


@pytest.mark.parametrize("cmd", sorted(PER_FILE))
def test_per_file_skip_existing_leaves_bytes(runner, tmp_path, two, cmd):
    args, first = PER_FILE[cmd]
    out = tmp_path / "out"
    out.mkdir()
    (out / first).write_bytes(b"precious")
    res = ak(runner, *args, two, "-o", f"{out}/", "-j", 1, "--skip-existing")
    assert res.exit_code == 0, res.stderr
    assert (out / first).read_bytes() == b"precious"
    check_output(first, (out / first.replace("a.", "b.", 1)).read_bytes())


@pytest.mark.parametrize("cmd", sorted(PER_FILE))
def test_per_file_update_remakes_only_outdated(runner, tmp_path, two, cmd):
    args, first = PER_FILE[cmd]
    out = tmp_path / "out"
    assert ak(runner, *args, two, "-o", f"{out}/", "-j", 1).exit_code == 0
    a_out, b_out = out / first, out / first.replace("a.", "b.", 1)
    # inputs at t0, outputs at t0 + 10 s, then a's input touched to t0 + 20 s (all in the past)
    t0 = time.time_ns() - 100 * 10**9
    for p, t in (
        (two / "a.wav", t0),
        (two / "b.wav", t0),
        (a_out, t0 + 10**10),
        (b_out, t0 + 10**10),
    ):
        os.utime(p, ns=(t, t))
    a_out.write_bytes(b"stale")  # damaged, to see it re-made
    os.utime(a_out, ns=(t0 + 10**10,) * 2)
    os.utime(two / "a.wav", ns=(t0 + 2 * 10**10,) * 2)
    b_stat, b_bytes = os.stat(b_out), b_out.read_bytes()
    a_ino = os.stat(a_out).st_ino
    res = ak(runner, *args, two, "-o", f"{out}/", "-j", 1, "--update")
    assert res.exit_code == 0, res.stderr
    check_output(first, a_out.read_bytes())
    assert os.stat(a_out).st_mtime_ns >= os.stat(two / "a.wav").st_mtime_ns
    assert os.stat(a_out).st_ino != a_ino or a_out.read_bytes() != b"stale"
    assert b_out.read_bytes() == b_bytes
    assert (os.stat(b_out).st_ino, os.stat(b_out).st_mtime_ns) == (
        b_stat.st_ino,
        b_stat.st_mtime_ns,
    )
    # nothing outdated: a second --update writes nothing
    snap = {p: os.stat(p).st_mtime_ns for p in (a_out, b_out)}
    assert ak(runner, *args, two, "-o", f"{out}/", "-j", 1, "--update").exit_code == 0
    assert {p: os.stat(p).st_mtime_ns for p in (a_out, b_out)} == snap


def test_spectrogram_skip_existing_with_data_partly_present(runner, tmp_path, two):
    sp, mats = tmp_path / "sp", tmp_path / "m"
    sp.mkdir()
    (sp / "a.spectrogram.png").write_bytes(b"precious")
    res = ak(runner, "spectrogram", two, "-o", f"{sp}/", "--data", f"{mats}/", "--skip-existing",
             "-j", 1)  # fmt: skip
    assert (sp / "a.spectrogram.png").read_bytes() == b"precious"
    assert (mats / "b.spectrogram.npy").exists()
    assert res.exit_code == 0, res.stderr


# ------------------------------------------------------------ 1. flag exclusivity

ALL_COMMANDS = {
    "inspect": ["inspect"],
    "features": ["features", *FEATURES],
    "plot": ["plot"],
    "spectrogram": ["spectrogram"],
    "preprocess": ["preprocess", "--sr", "8000"],
    "transcribe": ["transcribe"],
}
OUT_NAME = {
    "inspect": "t.csv",
    "features": "t.parquet",
    "plot": "p.png",
    "spectrogram": "s.png",
    "preprocess": "c.wav",
    "transcribe": "t.txt",
}


@pytest.mark.parametrize(
    "flags",
    [
        ("--overwrite", "--update"),
        ("--overwrite", "--skip-existing"),
        ("--skip-existing", "--update"),
        ("--prune",),
        ("--prune", "--overwrite"),
    ],
    ids=lambda f: "+".join(x.strip("-") for x in f),
)
@pytest.mark.parametrize("cmd", sorted(ALL_COMMANDS))
def test_policy_flags_exclude_each_other(runner, tmp_path, cmd, flags):
    a = tone(tmp_path / "in" / "a.wav")
    out = tmp_path / OUT_NAME[cmd]
    res = ak(runner, *ALL_COMMANDS[cmd], a, "-o", out, *flags)
    assert res.exit_code == 2, (res.stdout, res.stderr)
    assert not out.exists()


@pytest.mark.parametrize("cmd", ["inspect", "features"])
def test_skip_existing_is_not_a_table_option(runner, tmp_path, cmd):
    a = tone(tmp_path / "a.wav")
    res = ak(runner, *ALL_COMMANDS[cmd], a, "-o", tmp_path / OUT_NAME[cmd], "--skip-existing")
    assert res.exit_code == 2
    assert not (tmp_path / OUT_NAME[cmd]).exists()


def test_update_needs_a_table_file(runner, tmp_path):
    a = tone(tmp_path / "a.wav")
    assert ak(runner, "inspect", a, "-o", "-", "--update").exit_code == 2
    assert ak(runner, "inspect", a, "--update").exit_code == 2


# ---------------------------------------------------------------- 1. table --update


def _evolve(d: Path) -> None:
    """Delete a, change b (content and time), add c."""
    (d / "a.wav").unlink()
    tone(d / "b.wav", 1200, amp=0.2)
    touch_later(d / "b.wav")
    tone(d / "c.wav", 300, amp=0.9)


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.jsonl", "t.parquet"])
def test_inspect_update_prune_equals_full_run(runner, tmp_path, two, name):
    out = tmp_path / name
    assert ak(runner, "inspect", two, "-o", out, "-j", 1).exit_code == 0
    first = read_rows(out)
    _evolve(two)
    res = ak(runner, "inspect", two, "-o", out, "--update", "--prune", "-j", 1)
    assert res.exit_code == 0, res.stderr
    full = tmp_path / ("full" + out.suffix)
    assert ak(runner, "inspect", two, "-o", full, "-j", 1).exit_code == 0
    assert read_rows(out) == read_rows(full)
    assert len(read_rows(full)) == len(first)  # header + 2 or 2 rows: b and c
    assert read_rows(out) != first  # b changed, a gone, c added
    if out.suffix == ".parquet":
        assert pq.read_schema(out) == pq.read_schema(full)  # parameters and state too
        assert pq.read_schema(out).metadata == pq.read_schema(full).metadata
    else:
        assert out.read_bytes() == full.read_bytes()


def test_inspect_update_without_prune_keeps_rows_of_deleted_inputs(runner, tmp_path, two):
    out = tmp_path / "t.csv"
    assert ak(runner, "inspect", two, "-o", out, "-j", 1).exit_code == 0
    header, *first = read_csv(out)
    a_row = next(r for r in first if r[0].endswith("a.wav"))
    _evolve(two)
    assert ak(runner, "inspect", two, "-o", out, "--update", "-j", 1).exit_code == 0
    full = tmp_path / "full.csv"
    assert ak(runner, "inspect", two, "-o", full, "-j", 1).exit_code == 0
    header2, *rows = read_csv(out)
    assert header2 == header == INSPECT_COLUMNS
    assert a_row in rows
    assert [r for r in rows if r != a_row] == read_csv(full)[1:]


def test_features_update_prune_equals_full_run(runner, tmp_path, two):
    out = tmp_path / "f.parquet"
    assert ak(runner, "features", two, "-o", out, *FEATURES, "-j", 1).exit_code == 0
    first = pq.read_table(out).to_pylist()
    b_first = next(r for r in first if r["path"].endswith("b.wav"))
    _evolve(two)
    res = ak(runner, "features", two, "-o", out, *FEATURES, "--update", "--prune", "-j", 1)
    assert res.exit_code == 0, res.stderr
    full = tmp_path / "full.parquet"
    assert ak(runner, "features", two, "-o", full, *FEATURES, "-j", 1).exit_code == 0
    got, want = pq.read_table(out), pq.read_table(full)
    assert got.schema.remove_metadata() == want.schema.remove_metadata()
    assert got.to_pylist() == want.to_pylist()
    assert [Path(r["path"]).name for r in got.to_pylist()] == ["b.wav", "c.wav"]
    assert next(r for r in got.to_pylist() if r["path"].endswith("b.wav")) != b_first


def test_inspect_update_with_other_parameters_refused(runner, tmp_path, two):
    out = tmp_path / "t.csv"
    assert ak(runner, "inspect", two, "-o", out, "--no-levels", "-j", 1).exit_code == 0
    before = snapshot(tmp_path)
    tone(two / "c.wav")
    res = ak(runner, "inspect", two, "-o", out, "--update", "-j", 1)
    assert res.exit_code == 2
    assert len(err_lines(res)) == 1 and str(out) in res.stderr
    after = snapshot(tmp_path)
    after.pop("d/c.wav")
    assert after == before


def test_features_update_with_other_n_mfcc_refused(runner, tmp_path, two):
    out = tmp_path / "f.parquet"
    args = ("features", two, "-o", out, "--features", "mfcc", "-j", 1)
    assert ak(runner, *args, "--n-mfcc", 13).exit_code == 0
    before = out.read_bytes()
    res = ak(runner, *args, "--n-mfcc", 20, "--update")
    assert res.exit_code == 2
    assert len(err_lines(res)) == 1 and str(out) in res.stderr
    assert out.read_bytes() == before


def test_inspect_update_does_not_recompute_unchanged_inputs(runner, tmp_path, two):
    out = tmp_path / "t.csv"
    assert ak(runner, "inspect", two, "-o", out, "-j", 1).exit_code == 0
    first = read_csv(out)
    garble_keep_stat(two / "b.wav")  # same size and mtime: --update trusts its old row
    res = ak(runner, "inspect", two, "-o", out, "--update", "-j", 1)
    assert res.exit_code == 0, res.stderr
    assert read_csv(out) == first
    res = ak(runner, "inspect", two, "-o", out, "--overwrite", "-j", 1)
    assert res.exit_code == 1
    assert "b.wav" in res.stderr


def test_features_update_does_not_recompute_unchanged_inputs(runner, tmp_path, two):
    out = tmp_path / "f.parquet"
    assert ak(runner, "features", two, "-o", out, *FEATURES, "-j", 1).exit_code == 0
    first = pq.read_table(out).to_pylist()
    garble_keep_stat(two / "a.wav")
    tone(two / "c.wav", 660)
    res = ak(runner, "features", two, "-o", out, *FEATURES, "--update", "-j", 1)
    assert res.exit_code == 0, res.stderr
    rows = pq.read_table(out).to_pylist()
    assert rows[:2] == first and Path(rows[2]["path"]).name == "c.wav"
    res = ak(runner, "features", two, "-o", out, *FEATURES, "--overwrite", "-j", 1)
    assert res.exit_code == 1 and "a.wav" in res.stderr


def test_preprocess_report_update_keeps_rows_and_adds_new(runner, tmp_path, two):
    clean, report = tmp_path / "clean", tmp_path / "r.parquet"
    args = ("preprocess", two, "-o", f"{clean}/", "--sr", 8000, "--report", report, "-j", 1)
    assert ak(runner, *args).exit_code == 0
    first = pq.read_table(report).to_pylist()
    old = {p: os.stat(clean / p).st_mtime_ns for p in ("a.wav", "b.wav")}
    tone(two / "c.wav", 300)
    res = ak(runner, *args, "--update")
    assert res.exit_code == 0, res.stderr
    rows = pq.read_table(report).to_pylist()
    assert [Path(r["input"]).name for r in rows] == ["a.wav", "b.wav", "c.wav"]
    assert rows[:2] == first
    assert {p: os.stat(clean / p).st_mtime_ns for p in ("a.wav", "b.wav")} == old
    assert sf.info(clean / "c.wav").samplerate == 8000


def test_update_refuses_hand_edited_or_foreign_tables(runner, tmp_path, two):
    out = tmp_path / "t.csv"
    assert ak(runner, "inspect", two, "-o", out).exit_code == 0
    with open(out, "a") as fh:
        fh.write("junk\n")
    before = out.read_bytes()
    res = ak(runner, "inspect", two, "-o", out, "--update")
    assert res.exit_code == 2 and out.read_bytes() == before
    assert len(err_lines(res)) == 1 and "changed since audiokit wrote it" in res.stderr
    foreign = tmp_path / "f.parquet"
    import pyarrow as pa

    pq.write_table(pa.table({"x": [1]}), foreign)
    before = foreign.read_bytes()
    res = ak(runner, "features", two, "-o", foreign, *FEATURES, "--update")
    assert res.exit_code == 2 and foreign.read_bytes() == before


def test_update_refusal_of_hand_edited_csv_names_the_table(runner, tmp_path, two):
    out = tmp_path / "t.csv"
    assert ak(runner, "inspect", two, "-o", out).exit_code == 0
    with open(out, "a") as fh:
        fh.write("junk\n")
    res = ak(runner, "inspect", two, "-o", out, "--update")
    assert err_lines(res)[0].startswith(f"audiokit: {out}: changed since audiokit wrote it")


def test_preprocess_report_update_with_other_steps_refused_before_work(runner, tmp_path, two):
    report = tmp_path / "r.csv"
    args = ("preprocess", two, "--report", report, "-j", 1)
    assert ak(runner, *args, "-o", f"{tmp_path / 'c'}/", "--sr", 8000).exit_code == 0
    before = report.read_bytes()
    res = ak(runner, *args, "-o", f"{tmp_path / 'c2'}/", "--sr", 11025, "--update")
    assert res.exit_code == 2
    assert len(err_lines(res)) == 1 and "other parameters" in res.stderr
    assert report.read_bytes() == before
    assert not (tmp_path / "c2").exists() or not any((tmp_path / "c2").rglob("*.wav"))


# ------------------------------------------------------------------ 2. all inputs fail


@pytest.mark.parametrize("policy", ["--overwrite", "--update"])
@pytest.mark.parametrize("bad", ["missing", "corrupt"])
@pytest.mark.parametrize("name", ["t.csv", "t.parquet"])
def test_all_inputs_failing_leave_existing_table_unchanged(
    runner, tmp_path, two, name, bad, policy
):
    out = tmp_path / name
    assert ak(runner, "inspect", two, "-o", out, "-j", 1).exit_code == 0
    before = snapshot(tmp_path)
    src = tmp_path / "nope.wav" if bad == "missing" else corrupt(tmp_path / "bad.wav")
    if bad == "corrupt":
        before = snapshot(tmp_path)
    res = ak(runner, "inspect", src, "-o", out, policy, "-j", 1)
    assert res.exit_code == 1
    assert "nope.wav" in res.stderr or "bad.wav" in res.stderr
    assert snapshot(tmp_path) == before


def test_features_all_inputs_failing_leave_existing_table_unchanged(runner, tmp_path, two):
    out = tmp_path / "f.parquet"
    assert ak(runner, "features", two, "-o", out, *FEATURES, "-j", 1).exit_code == 0
    bad = corrupt(tmp_path / "bad.wav")
    before = out.read_bytes()
    for policy in ("--overwrite", "--update"):
        res = ak(runner, "features", bad, "-o", out, *FEATURES, policy, "-j", 1)
        assert res.exit_code == 1
        assert out.read_bytes() == before


@pytest.mark.parametrize("bad", ["missing", "corrupt"])
def test_new_csv_table_without_successes_has_header(runner, tmp_path, bad):
    src = tmp_path / "nope.wav" if bad == "missing" else corrupt(tmp_path / "bad.wav")
    out = tmp_path / "new.csv"
    res = ak(runner, "inspect", src, "-o", out)
    assert res.exit_code == 1
    assert read_csv(out) == [INSPECT_COLUMNS]


def test_new_parquet_tables_without_successes_have_schema(runner, tmp_path):
    bad = corrupt(tmp_path / "bad.wav")
    out = tmp_path / "new.parquet"
    assert ak(runner, "inspect", bad, "-o", out).exit_code == 1
    t = pq.read_table(out)
    assert t.num_rows == 0 and t.column_names == INSPECT_COLUMNS
    fout = tmp_path / "f.parquet"
    assert ak(runner, "features", bad, "-o", fout, *FEATURES).exit_code == 1
    cols = ak(runner, "features", "--list-columns", *FEATURES).stdout.split()
    t = pq.read_table(fout)
    assert t.num_rows == 0 and t.column_names == ["path", "duration", "sample_rate", *cols]


# ---------------------------------------------------------------- 3. standard output


@pytest.fixture
def in_tmp(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert not os.path.lexists(tmp_path / "-")


def test_inspect_stdout_formats(runner, in_tmp, two):
    rows = list(csv.reader(io.StringIO(ak(runner, "inspect", two, "-o", "-").stdout)))
    assert rows[0] == INSPECT_COLUMNS and len(rows) == 3
    tsv = ak(runner, "inspect", two, "-o", "-", "--format", "tsv").stdout
    assert tsv.splitlines()[0].split("\t") == INSPECT_COLUMNS
    assert [r.split("\t")[0] for r in tsv.splitlines()[1:]] == [r[0] for r in rows[1:]]
    jl = [
        json.loads(x)
        for x in ak(runner, "inspect", two, "-o", "-", "--format", "jsonl").stdout.splitlines()
    ]
    assert [r["path"] for r in jl] == [r[0] for r in rows[1:]]
    res = ak(runner, "inspect", two, "-o", "-", "--format", "parquet")
    assert res.exit_code == 0
    t = pq.read_table(io.BytesIO(res.stdout_bytes))
    assert t.column_names == INSPECT_COLUMNS and t.column("path").to_pylist() == [
        r[0] for r in rows[1:]
    ]
    assert sorted(os.listdir(in_tmp)) == ["d"]


def test_stdout_table_holds_only_rows_when_an_input_fails(runner, in_tmp, two):
    bad = corrupt(in_tmp / "bad.wav")
    res = ak(runner, "inspect", two, bad, "-o", "-", "-j", 1)
    assert res.exit_code == 1
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0] == INSPECT_COLUMNS and [Path(r[0]).name for r in rows[1:]] == ["a.wav", "b.wav"]
    assert "bad.wav" in res.stderr and "bad.wav" not in res.stdout


def test_features_stdout_csv(runner, in_tmp, two):
    res = ak(runner, "features", two, "-o", "-", *FEATURES, "-j", 1)
    assert res.exit_code == 0
    rows = list(csv.reader(io.StringIO(res.stdout)))
    assert rows[0][:3] == ["path", "duration", "sample_rate"] and len(rows) == 3
    assert sorted(os.listdir(in_tmp)) == ["d"]


@pytest.mark.parametrize("cmd", ["plot", "spectrogram"])
def test_picture_on_stdout(runner, in_tmp, two, cmd):
    res = ak(runner, cmd, two / "a.wav", "-o", "-")
    assert res.exit_code == 0, res.stderr
    w, h = is_png(res.stdout_bytes)
    assert w > 100 and h > 100
    assert sorted(os.listdir(in_tmp)) == ["d"]


def test_preprocess_wav_on_stdout(runner, in_tmp, two):
    res = ak(runner, "preprocess", two / "a.wav", "--sr", 8000, "--format", "wav", "-o", "-")
    assert res.exit_code == 0, res.stderr
    y, sr = sf.read(io.BytesIO(res.stdout_bytes))
    assert sr == 8000 and abs(len(y) - 0.4 * 8000) <= 2
    assert sorted(os.listdir(in_tmp)) == ["d"]


def test_preprocess_stdout_report_names_no_scratch_file(runner, in_tmp, two):
    report = in_tmp / "r.csv"
    res = ak(runner, "preprocess", two / "a.wav", "--sr", 8000, "--format", "wav", "-o", "-",
             "--report", report)  # fmt: skip
    assert res.exit_code == 0
    sf.read(io.BytesIO(res.stdout_bytes))
    header, row = read_csv(report)
    value = row[header.index("outputs")]
    assert value in ("-", '["-"]'), value


def test_preprocess_audio_and_report_both_on_stdout_is_usage_error(runner, in_tmp, two):
    res = ak(runner, "preprocess", two / "a.wav", "--sr", 8000, "--format", "wav", "-o", "-",
             "--report", "-")  # fmt: skip
    assert res.exit_code == 2, res.stdout_bytes[:60]


@pytest.mark.parametrize("cmd", sorted(PER_FILE))
def test_many_inputs_to_stdout_is_usage_error(runner, in_tmp, two, cmd):
    res = ak(runner, *PER_FILE[cmd][0], two, "-o", "-")
    assert res.exit_code == 2 and res.stdout_bytes == b""
    assert sorted(os.listdir(in_tmp)) == ["d"]


def test_transcribe_stdout_and_existing_per_file_output(runner, in_tmp):
    s = silence(in_tmp / "d" / "s1.wav")
    silence(in_tmp / "d" / "s2.wav")
    res = ak(runner, "transcribe", s, "-o", "-")
    assert res.exit_code == 0, res.stderr
    assert res.stdout.strip() == ""
    out = in_tmp / "out"
    out.mkdir()
    (out / "s1.txt").write_text("precious")
    res = ak(runner, "transcribe", in_tmp / "d", "-o", f"{out}/", "-j", 1)
    assert res.exit_code == 1
    lines = error_lines(res)
    assert len(lines) == 1 and f"{out / 's1.txt'}: exists (" in lines[0], lines
    assert (out / "s1.txt").read_text() == "precious"
    assert (out / "s2.txt").read_text().strip() == ""
    assert sorted(os.listdir(in_tmp)) == ["d", "out"]


def test_transcribe_many_inputs_to_one_subtitle_file_is_usage_error(runner, in_tmp):
    silence(in_tmp / "d" / "s1.wav")
    silence(in_tmp / "d" / "s2.wav")
    res = ak(runner, "transcribe", in_tmp / "d", "-o", "many.srt")
    assert res.exit_code == 2
    assert not os.path.lexists(in_tmp / "many.srt")


def test_plot_to_unsupported_extension_is_usage_error(runner, in_tmp, two):
    res = ak(runner, "plot", two / "a.wav", "-o", "a.mp3")
    assert res.exit_code == 2
    assert sorted(os.listdir(in_tmp)) == ["d"]
    assert sorted(os.listdir(two)) == ["a.wav", "b.wav"]


# ------------------------------------------------------------------------- 4. names


def test_same_stem_different_extensions_keep_extension(runner, tmp_path):
    d = tmp_path / "f"
    tone(d / "a.wav")
    sf.write(d / "a.flac", np.zeros(4000, dtype=np.float32), 16000)
    res = ak(runner, "spectrogram", d, "-o", f"{tmp_path / 'out'}/", "-j", 1)
    assert res.exit_code == 0, res.stderr
    assert sorted(os.listdir(tmp_path / "out")) == [
        "a.flac.spectrogram.png",
        "a.wav.spectrogram.png",
    ]
    for n in os.listdir(tmp_path / "out"):
        is_png((tmp_path / "out" / n).read_bytes())


def _same_layout(tmp_path: Path) -> tuple[Path, Path]:
    x = tone(tmp_path / "x" / "s" / "a.wav", 440)
    y = tone(tmp_path / "y" / "s" / "a.wav", 880)
    return x, y


def test_two_roots_with_same_layout_are_mirrored(runner, tmp_path):
    _same_layout(tmp_path)
    out = tmp_path / "out"
    res = ak(runner, "plot", tmp_path / "x", tmp_path / "y", "-o", f"{out}/", "-j", 1)
    assert res.exit_code == 0, res.stderr
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert got == ["x/s/a.waveform.png", "y/s/a.waveform.png"]
    assert (out / "x/s/a.waveform.png").read_bytes() != (out / "y/s/a.waveform.png").read_bytes()


def test_files_from_with_same_names_are_mirrored(runner, tmp_path):
    x, y = _same_layout(tmp_path)
    listing = tmp_path / "list.txt"
    listing.write_text(f"{x}\n{y}\n")
    out = tmp_path / "out"
    res = ak(runner, "plot", "--files-from", listing, "-o", f"{out}/", "-j", 1)
    assert res.exit_code == 0, res.stderr
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert got == ["x/s/a.waveform.png", "y/s/a.waveform.png"]


def test_same_names_given_as_files_are_mirrored(runner, tmp_path):
    x, y = _same_layout(tmp_path)
    out = tmp_path / "out"
    res = ak(runner, "plot", x, y, "-o", f"{out}/", "-j", 1)
    assert res.exit_code == 0, res.stderr
    got = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
    assert got == ["x/s/a.waveform.png", "y/s/a.waveform.png"]


def test_preprocess_same_stem_keeps_extension(runner, tmp_path):
    d = tmp_path / "f"
    tone(d / "a.wav", 440)
    tone(d / "a.flac", 880)
    res = ak(runner, "preprocess", d, "-o", f"{tmp_path / 'out'}/", "--format", "wav", "-j", 1)
    assert res.exit_code == 0, res.stderr
    assert sorted(os.listdir(tmp_path / "out")) == ["a.flac.wav", "a.wav.wav"]
    assert not np.allclose(
        sf.read(tmp_path / "out/a.flac.wav")[0], sf.read(tmp_path / "out/a.wav.wav")[0]
    )


def test_name_template(runner, tmp_path, two):
    out = tmp_path / "out"
    res = ak(runner, "plot", two, "-o", f"{out}/", "--name", "{stem}_{kind}.png", "-j", 1)
    assert res.exit_code == 0, res.stderr
    assert sorted(os.listdir(out)) == ["a_waveform.png", "b_waveform.png"]


@pytest.mark.parametrize("cmd", ["plot", "spectrogram", "preprocess"])
@pytest.mark.parametrize("template", ["../../x_{stem}.png", "ABS"])
def test_name_template_cannot_leave_output_dir(runner, tmp_path, two, cmd, template):
    if template == "ABS":
        template = str(tmp_path / "abs_{stem}.png")
    if cmd == "preprocess":
        template = template.replace(".png", ".wav")
    (tmp_path / "work").mkdir()
    before = snapshot(tmp_path)
    out = tmp_path / "work" / "out"
    res = ak(runner, *PER_FILE[cmd][0], two, "-o", f"{out}/", "--name", template)
    assert res.exit_code == 2
    assert snapshot(tmp_path) == before
    assert not out.exists() or not any(out.iterdir())


# ------------------------------------------------------------------------- 5. locks


def run_exe(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, timeout=60, **kw)


@needs_exe
def test_locked_table_exits_75(tmp_path, two):
    out = tmp_path / "t.csv"
    out.write_text("old\n")
    with OutputLock(out):
        res = run_exe("inspect", two, "-o", out, "--overwrite")
    assert res.returncode == 75
    lines = err_lines(res)
    assert len(lines) == 1 and "lock" in lines[0], lines
    assert out.read_text() == "old\n"


@needs_exe
def test_locked_output_file_exits_75(tmp_path, two):
    out = tmp_path / "p.png"
    with OutputLock(out):
        res = run_exe("plot", two / "a.wav", "-o", out)
    assert res.returncode == 75
    lines = err_lines(res)
    assert len(lines) == 1 and "lock" in lines[0], lines
    assert not out.exists()


@needs_exe
def test_locked_output_directory_exits_75(tmp_path, two):
    out = tmp_path / "out"
    with OutputLock(out, directory=True):
        res = run_exe("plot", two, "-o", f"{out}/", "-j", 1)
    assert res.returncode == 75
    lines = err_lines(res)
    assert len(lines) == 1 and "lock" in lines[0], lines
    assert not list(out.glob("*.png"))


@needs_exe
def test_locked_output_directory_exits_75_for_one_input(tmp_path, two):
    out = tmp_path / "out"
    with OutputLock(out, directory=True):
        res = run_exe("plot", two / "a.wav", "-o", f"{out}/")
        written = list(out.glob("*.png"))
    assert (res.returncode, written) == (75, [])


@needs_exe
@pytest.mark.parametrize("what", ["table", "directory"])
def test_wait_for_lock_then_succeed(tmp_path, two, what):
    if what == "table":
        out, lock = tmp_path / "t.csv", OutputLock(tmp_path / "t.csv")
        args = ("inspect", two, "-o", out)
    else:
        out, lock = tmp_path / "out", OutputLock(tmp_path / "out", directory=True)
        args = ("plot", two, "-o", f"{out}/", "-j", 1)
    lock.acquire()
    timer = threading.Timer(0.5, lock.release)
    timer.start()
    try:
        t0 = time.monotonic()
        res = run_exe(*args, "--wait", 5)
        elapsed = time.monotonic() - t0
    finally:
        timer.join()
        lock.release()
    assert res.returncode == 0, res.stderr
    assert elapsed >= 0.4
    if what == "table":
        assert len(read_csv(out)) == 3
    else:
        assert sorted(os.listdir(out)) == ["a.waveform.png", "b.waveform.png"]


# ----------------------------------------------------------------------- 6. streams


def test_plot_per_file_lines_and_quiet(runner, tmp_path, two):
    res = ak(runner, "plot", two, "-o", f"{tmp_path / 'o1'}/", "-j", 1)
    assert res.exit_code == 0
    lines = err_lines(res)
    assert len(lines) == 2 and all(" -> " in x for x in lines), lines
    assert res.stdout == ""
    res = ak(runner, "plot", two, "-o", f"{tmp_path / 'o2'}/", "-j", 1, "-q")
    assert res.exit_code == 0 and res.stderr == "" and res.stdout == ""
    assert len(os.listdir(tmp_path / "o2")) == 2


def test_plot_json_stdout_is_json_lines_only(runner, tmp_path, two):
    res = ak(runner, "plot", two, "-o", f"{tmp_path / 'o'}/", "-j", 1, "--json")
    assert res.exit_code == 0
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == 2
    assert sorted(Path(r["output"]).name for r in rows) == ["a.waveform.png", "b.waveform.png"]


def test_plot_json_stdout_stays_json_when_an_input_fails(runner, tmp_path, two):
    bad = corrupt(two / "c.wav")
    res = ak(runner, "plot", two, "-o", f"{tmp_path / 'o'}/", "-j", 1, "--json")
    assert res.exit_code == 1
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == 2 and str(bad) in res.stderr


@needs_exe
@pytest.mark.parametrize(
    "how", [("-o", "-", "--format", "jsonl"), ("--json",)], ids=["o-dash-jsonl", "json"]
)
def test_closed_stdout_is_quiet(tmp_path, two, how):
    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first row
    try:
        cmd = [EXE, "inspect", str(two), *how, "-j", "1"]
        res = subprocess.run(cmd, stdout=w, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(w)
    assert (res.returncode, res.stderr) == (0, "")


# -------------------------------------------------------------------------- 7. make


def _makefile(tmp_path: Path, stems: list[str]) -> None:
    clean = " ".join(f"clean/{s}.flac" for s in stems)
    (tmp_path / "Makefile").write_text(
        f"AK := {EXE}\n"
        "AUDIO := $(wildcard data/*.wav)\n"
        f"CLEAN := {clean}\n"
        "all: features.parquet inventory.csv $(CLEAN)\n"
        "features.parquet: $(AUDIO)\n"
        "\t$(AK) features data -o $@ --update\n"
        "inventory.csv: $(AUDIO)\n"
        "\t$(AK) inspect data -o $@ --update\n"
        "clean/%.flac: data/%.wav\n"
        "\t$(AK) preprocess $< -o $@ --sr 8000 --format flac --overwrite\n"
    )


@needs_exe
@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_makefile_runs_twice_with_update(tmp_path):
    data = tmp_path / "data"
    tone(data / "a.wav", 440)
    tone(data / "b.wav", 880)
    _makefile(tmp_path, ["a", "b"])
    res = subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    feats1 = pq.read_table(tmp_path / "features.parquet").to_pylist()
    inv1 = read_csv(tmp_path / "inventory.csv")
    clean_times = {s: os.stat(tmp_path / f"clean/{s}.flac").st_mtime_ns for s in "ab"}
    assert len(feats1) == 2 and len(inv1) == 3
    time.sleep(0.05)
    tone(data / "c.wav", 300)
    touch_later(data / "c.wav", 2)  # newer than the tables whatever the clock resolution
    _makefile(tmp_path, ["a", "b", "c"])
    res = subprocess.run(["make", "-C", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    feats2 = pq.read_table(tmp_path / "features.parquet").to_pylist()
    inv2 = read_csv(tmp_path / "inventory.csv")
    assert [r["path"] for r in feats2] == ["data/a.wav", "data/b.wav", "data/c.wav"]
    assert feats2[:2] == feats1
    assert inv2[:3] == inv1 and len(inv2) == 4 and inv2[3][0] == "data/c.wav"
    assert {s: os.stat(tmp_path / f"clean/{s}.flac").st_mtime_ns for s in "ab"} == clean_times
    assert sorted(os.listdir(tmp_path / "clean")) == ["a.flac", "b.flac", "c.flac"]
    info = sf.info(tmp_path / "clean/c.flac")
    assert info.samplerate == 8000 and info.format == "FLAC"
