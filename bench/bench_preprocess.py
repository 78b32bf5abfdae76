"""``audiokit preprocess`` against sox: resample 44.1 kHz -> 16 kHz + peak normalise to -1 dBFS.

Measured in the same run on the same files:

* a directory of short clips: sox once per file (serial, and ``xargs -P2``)
  against one ``audiokit preprocess`` call (``-j 1`` and ``-j 2``);
* a 1-hour file: wall time and peak RSS of the streaming path, of the
  in-memory path (``--streaming off``) and of sox.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from common import (
    AUDIOKIT,
    DATA,
    have,
    make_clips,
    make_long,
    peak_rss_mb,
    ratio,
    run_cmd,
    timeit,
)

N_CLIPS = 300
CLIP_SECONDS = 2.0


def _sox_serial(files: list[Path], out: Path) -> None:
    for f in files:
        subprocess.run(
            ["sox", "--norm=-1", str(f), "-r", "16000", str(out / f.name)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def _sox_xargs(folder: Path, out: Path) -> list[str]:
    script = f'sox --norm=-1 "$0" -r 16000 "{out}/$(basename "$0")"'
    return ["bash", "-c", f"ls {folder}/*.wav | xargs -P2 -n1 bash -c '{script}'"]


def main() -> None:
    if not have("sox"):
        print("sox not installed: no baseline, skipped")
        return
    folder = DATA / f"preprocess_clips_{N_CLIPS}"
    clips = make_clips(folder, N_CLIPS, sr=44100, seconds=CLIP_SECONDS)
    files = sorted(clips.glob("*.wav"))[:N_CLIPS]
    work = Path(tempfile.mkdtemp(prefix="bench-preprocess-", dir=DATA))
    try:
        sox_out = work / "sox"
        sox_out.mkdir()
        ak_out = work / "ak"
        t_sox = timeit(lambda: _sox_serial(files, sox_out), repeat=2)
        t_sox2 = run_cmd(_sox_xargs(clips, sox_out), repeat=2)
        base = [
            AUDIOKIT,
            "preprocess",
            str(clips),
            "-o",
            str(ak_out),
            "--sr",
            "16000",
            "--normalize",
            "peak",
            "--target",
            "-1",
            "--overwrite",
            "-q",
            "--json",
        ]
        t_ak1 = run_cmd([*base, "-j", "1"], repeat=2)
        t_ak2 = run_cmd([*base, "-j", "2"], repeat=2)
        label = f"{N_CLIPS} clips x {CLIP_SECONDS:g} s, 44.1k->16k + peak -1 dBFS"
        ratio(f"{label}, serial (sox per file vs -j1)", t_sox, t_ak1)
        ratio(f"{label}, 2 jobs (xargs -P2 vs -j2)", t_sox2, t_ak2)
        a = sf.read(ak_out / files[0].name)[0]
        s = sf.read(sox_out / files[0].name)[0]
        print(
            f"  same result: {len(a)} vs {len(s)} samples, peaks "
            f"{20 * np.log10(np.abs(a).max()):.2f} / {20 * np.log10(np.abs(s).max()):.2f} dBFS"
        )

        long = make_long(DATA / "long_1h.wav", 3600)
        out = work / "long.wav"
        cmd = [AUDIOKIT, "preprocess", str(long), "-o", str(out), "--sr", "16000"]
        cmd += ["--normalize", "peak", "--overwrite", "-q"]
        t_st, rss_st = peak_rss_mb(cmd)
        t_mem, rss_mem = peak_rss_mb([*cmd, "--streaming", "off"])
        t_sx, rss_sx = peak_rss_mb(["sox", "--norm=-1", str(long), "-r", "16000", str(out)])
        size = long.stat().st_size / 2**20
        print(f"1-hour file ({size:.0f} MiB, 22.05k mono PCM_16) -> 16k + peak -1 dBFS:")
        print(f"  audiokit streaming   {t_st:7.1f} s   peak RSS {rss_st:7.1f} MiB")
        print(f"  audiokit in memory   {t_mem:7.1f} s   peak RSS {rss_mem:7.1f} MiB")
        print(f"  sox                  {t_sx:7.1f} s   peak RSS {rss_sx:7.1f} MiB")
        ratio("1-hour file, sox vs audiokit streaming", t_sx, t_st)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
