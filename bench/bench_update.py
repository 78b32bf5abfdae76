"""Benchmark incremental runs: ``features --update`` and ``inspect --update`` against full runs.

A table over 2,000 one-second clips is made once; 10 new clips are added; the
full run (``--overwrite``, every clip computed again) is timed against the
incremental one (``--update``: the 2,000 rows are kept without decoding, the 10
new clips computed). Both are fresh processes with the default jobs, so start-up
is counted on both sides. The figure is the incremental run's time as a fraction
of the full run's (target: under 10 %).

Run: ``python bench/run.py update``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from common import AUDIOKIT, DATA, make_clips, run_cmd

N_CLIPS = 2000
N_NEW = 10


def main() -> None:
    src = make_clips(DATA / "clips2000", N_CLIPS)
    work = DATA / "update"
    shutil.rmtree(work, ignore_errors=True)
    clips = work / "clips"
    clips.mkdir(parents=True)
    for p in sorted(src.glob("*.wav"))[:N_CLIPS]:
        (clips / p.name).hardlink_to(p)
    new = make_clips(DATA / "clips_new", N_NEW, seed=7)
    for command, table in (("features", "f.parquet"), ("inspect", "i.parquet")):
        out = work / table
        base = [AUDIOKIT, command, str(clips), "-o", str(out), "-q"]
        subprocess.run([*base, "--overwrite"], check=True, stderr=subprocess.DEVNULL)
        for i, p in enumerate(sorted(new.glob("*.wav"))[:N_NEW]):
            target = clips / f"new_{command}_{i:02d}.wav"
            target.unlink(missing_ok=True)
            target.hardlink_to(p)
        full = run_cmd([*base, "--overwrite"], repeat=2)
        # Each incremental run starts from the table without the new clips.
        incremental = []
        for _ in range(3):
            _remove_new_rows(out, command)
            incremental.append(run_cmd([*base, "--update"], repeat=1))
        inc = min(incremental)
        print(
            f"{command} --update: {N_CLIPS} clips + {N_NEW} new   full run {full:7.2f} s   "
            f"--update {inc:6.2f} s   = {100 * inc / full:5.1f} % of the full run",
            flush=True,
        )


def _remove_new_rows(out: Path, command: str) -> None:
    """Rebuild the table over the old clips only (so that --update has 10 to add)."""
    clips = DATA / "update" / "clips"
    old = [str(p) for p in sorted(clips.glob("clip_*.wav"))]
    listing = DATA / "update" / "old.txt"
    listing.write_text("\n".join(old) + "\n")
    subprocess.run(
        [AUDIOKIT, command, "--files-from", str(listing), "-o", str(out), "-q", "--overwrite"],
        check=True,
        stderr=subprocess.DEVNULL,
    )


if __name__ == "__main__":
    main()
