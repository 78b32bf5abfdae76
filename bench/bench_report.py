"""``audiokit report`` over 2,000 clips against ``audiokit inspect`` alone over the same clips.

The report measures every clip as inspect does (on the batch engine), then summarizes,
draws the histograms and the spectrogram thumbnails (default 12) and writes one HTML
page; the figure is the report's time as a multiple of inspect's (writing a Parquet
table). Also timed: the report with ``--thumbnails 0``, and a re-run with ``--update``
over the same clips (every row kept, nothing decoded). Fresh processes, ``-j 2``,
start-up counted on both sides.

Run: ``python bench/run.py report``.
"""

from __future__ import annotations

import shutil
import subprocess

from common import AUDIOKIT, DATA, make_clips, run_cmd

N_CLIPS = 2000
JOBS = "2"


def main() -> None:
    clips = make_clips(DATA / "clips_2000", N_CLIPS, sr=16000, seconds=0.5)
    work = DATA / "report"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # inspect measures levels by default; add --loudness where inspect has it (the report
    # measures what inspect measures).
    inspect = run_cmd(
        [
            AUDIOKIT,
            "inspect",
            str(clips),
            "-o",
            str(work / "i.parquet"),
            "--overwrite",
            "-q",
            "-j",
            JOBS,
            *_loudness(),
        ],
        repeat=3,
    )
    base = [AUDIOKIT, "report", str(clips), "-q", "-j", JOBS]
    report = run_cmd([*base, "-o", str(work / "r.html"), "--overwrite"], repeat=3)
    bare = run_cmd(
        [*base, "-o", str(work / "bare.html"), "--overwrite", "--thumbnails", "0"], repeat=3
    )
    run_cmd([*base, "-o", str(work / "u.html"), "--update"], repeat=1)  # makes the table
    update = run_cmd([*base, "-o", str(work / "u.html"), "--update"], repeat=3)
    print(f"{N_CLIPS} clips of 0.5 s at 16 kHz, -j {JOBS}:")
    print(f"  audiokit inspect -o table.parquet          {inspect:7.2f} s")
    print(f"  audiokit report -o report.html             {report:7.2f} s   x{report / inspect:.2f}")
    print(f"  audiokit report --thumbnails 0             {bare:7.2f} s   x{bare / inspect:.2f}")
    print(f"  audiokit report --update (all rows kept)   {update:7.2f} s   x{update / inspect:.2f}")


def _loudness() -> list[str]:
    helptext = subprocess.run(
        [AUDIOKIT, "inspect", "--help"], check=True, capture_output=True, text=True
    ).stdout
    return ["--loudness"] if "--loudness" in helptext else []
