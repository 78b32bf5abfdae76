"""Helpers shared by the benchmarks: timing, peak memory of a child process, data generation."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".bench"
VENV_BIN = Path(sys.executable).parent
AUDIOKIT = str(VENV_BIN / "audiokit") if (VENV_BIN / "audiokit").exists() else "audiokit"


def timeit(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def run_cmd(args: list[str], repeat: int = 3, **kw: object) -> float:
    """Best wall time of a command (stdout/stderr discarded)."""
    return timeit(
        lambda: subprocess.run(
            args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw
        ),  # type: ignore[arg-type]
        repeat,
    )


def peak_rss_mb(args: list[str], exit_1_ok: bool = False) -> tuple[float, float]:
    """Run a command; return (wall seconds, peak RSS in MiB of its largest child process).

    ``exit_1_ok``: exit status 1 is a result, not a failure (``audiokit check``).
    """
    code = (
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "r=subprocess.run(sys.argv[2:],stdout=subprocess.DEVNULL).returncode;"
        "ok=r==0 or (r==1 and sys.argv[1]=='1');"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss);"
        "sys.exit(0 if ok else r)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "1" if exit_1_ok else "0", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]) / 1024


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def make_clips(folder: Path, n: int, sr: int = 22050, seconds: float = 1.0, seed: int = 0) -> Path:
    """``n`` short WAV clips (tones plus noise) in ``folder``; reused when present."""
    folder.mkdir(parents=True, exist_ok=True)
    if len(list(folder.glob("*.wav"))) >= n:
        return folder
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    for i in range(n):
        f = 110 * 2 ** (rng.integers(0, 36) / 12)
        y = 0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(len(t))
        sf.write(folder / f"clip_{i:05d}.wav", y.astype(np.float32), sr, subtype="PCM_16")
    return folder


def make_long(path: Path, seconds: float, sr: int = 22050, seed: int = 0) -> Path:
    """A long mono WAV of music-like content, written block by block; reused when present."""
    if path.exists() and sf.info(path).duration >= seconds - 1:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    block = sr * 10
    with sf.SoundFile(path, "w", sr, 1, subtype="PCM_16") as fh:
        done = 0
        total = int(seconds * sr)
        while done < total:
            n = min(block, total - done)
            t = (done + np.arange(n)) / sr
            f = 110 * 2 ** (rng.integers(0, 36) / 12)
            y = 0.3 * np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 2 * t))
            y += 0.02 * rng.standard_normal(n)
            fh.write(y.astype(np.float32))
            done += n
    return path


@dataclass
class Row:
    """One comparison of the summary table (:func:`ratio` records them)."""

    bench: str
    case: str
    peer: str
    base: float
    ours: float
    unit: str

    @property
    def speedup(self) -> float:
        return self.base / self.ours if self.ours > 0 else float("inf")


#: Every comparison printed in this run, for the summary table of ``bench/run.py``.
RESULTS: list[Row] = []
#: Peak memory of each command on the 3-hour file: (command, MiB or None, note).
MEMORY: list[tuple[str, float | None, str]] = []
#: The benchmark running now (set by ``bench/run.py``).
CURRENT = {"bench": ""}


def ratio(name: str, base: float, ours: float, unit: str = "s", peer: str = "baseline") -> None:
    """Print a comparison line (baseline, audiokit, the speed-up) and record it."""
    print(
        f"{name:<48} {peer} {base:8.3f} {unit}   audiokit {ours:8.3f} {unit}   "
        f"speed-up x{base / ours:5.2f}",
        flush=True,
    )
    RESULTS.append(Row(CURRENT["bench"], name, peer, base, ours, unit))


def skipped(name: str, why: str) -> None:
    """Record (and print) a comparison that could not run, e.g. a peer not installed."""
    print(f"{name:<48} skipped: {why}", flush=True)
    RESULTS.append(Row(CURRENT["bench"], name, f"skipped: {why}", float("nan"), float("nan"), ""))


def summary() -> str:
    """The summary table of every recorded comparison, and the 3-hour peak memory."""
    lines = [
        f"{'command':<12} {'case':<52} {'peer':<24} {'peer':>10} {'audiokit':>10} {'ratio':>7}",
        "-" * 120,
    ]
    for r in RESULTS:
        if r.peer.startswith("skipped"):
            lines.append(f"{r.bench:<12} {r.case[:52]:<52} {r.peer[:60]}")
            continue
        lines.append(
            f"{r.bench:<12} {r.case[:52]:<52} {r.peer[:24]:<24} {r.base:9.3f}{r.unit[:1]} "
            f"{r.ours:9.3f}{r.unit[:1]} {r.speedup:6.2f}x"
        )
    if MEMORY:
        lines += ["", "peak memory on a 3-hour file (largest process):"]
        for cmd, mb, note in MEMORY:
            shown = f"{mb:7.0f} MiB" if mb is not None else "    skipped"
            lines.append(f"  {cmd:<40} {shown}  {note}")
    return "\n".join(lines)


__all__ = [
    "AUDIOKIT",
    "MEMORY",
    "RESULTS",
    "DATA",
    "ROOT",
    "have",
    "make_clips",
    "make_long",
    "os",
    "peak_rss_mb",
    "ratio",
    "resource",
    "run_cmd",
    "skipped",
    "summary",
    "timeit",
]
