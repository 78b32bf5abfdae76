"""``audiokit preprocess`` against sox: resample to 16 kHz + peak normalise to -1 dBFS.

The same work on both sides, measured in the same run on the same files:

* sox ``--norm=-1 IN -r 16000 OUT``: its effects chain is gain (headroom), rate
  (soxr high quality), gain -n (the output of ``rate`` kept in a temporary file
  to find the peak, then scaled), TPDF dither (16-bit output), output;
* ``audiokit preprocess IN -o OUT --sr 16000 --normalize peak --target -1``:
  soxr HQ, the peak of the resampled signal, the gain, TPDF dither, 16-bit
  output written atomically, plus its report (peak and loudness of the input,
  peak of the output; ``lufs_out`` only with ``--measure-output``).

Cases: a directory of short clips at 44.1 kHz (sox once per file, serial and
``xargs -P2``, against one ``audiokit preprocess`` call with ``-j 1`` and ``-j 2``);
1-hour files at 22.05 kHz and 44.1 kHz: wall time, CPU time and peak RSS of
the streaming path, of the in-memory path (``--streaming off``) and of sox.
The machine may be shared: every ratio compares runs made back to back.
"""

from __future__ import annotations

import resource
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
    skipped,
    timeit,
)

N_CLIPS = 300
CLIP_SECONDS = 2.0


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


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


def _cpu_cmd(args: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rss = peak_rss_mb(args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu, rss


def _long_file(work: Path, sr: int) -> None:
    name = "long_1h.wav" if sr == 22050 else f"long_1h_{sr // 1000}k.wav"
    long = make_long(DATA / name, 3600, sr=sr)
    out = work / "long.wav"
    cmd = [AUDIOKIT, "preprocess", str(long), "-o", str(out), "--sr", "16000"]
    cmd += ["--normalize", "peak", "--overwrite", "-q"]
    sx = _cpu_cmd(["sox", "--norm=-1", str(long), "-r", "16000", str(out)])
    st = _cpu_cmd(cmd)
    mem = _cpu_cmd([*cmd, "--streaming", "off"])
    sx2 = _cpu_cmd(["sox", "--norm=-1", str(long), "-r", "16000", str(out)])
    st2 = _cpu_cmd(cmd)
    sx, st = min(sx, sx2), min(st, st2)
    size = long.stat().st_size / 2**20
    print(f"1-hour file ({size:.0f} MiB, {sr / 1000:g}k mono PCM_16) -> 16k + peak -1 dBFS:")
    for label, (wall, cpu, rss) in (
        ("audiokit streaming", st),
        ("audiokit in memory", mem),
        ("sox", sx),
    ):
        print(f"  {label:<20} {wall:7.1f} s   CPU {cpu:6.1f} s   peak RSS {rss:7.1f} MiB")
    ratio(f"1-hour file {sr / 1000:g}k, streamed", sx[0], st[0], peer="sox")
    ratio(f"1-hour file {sr / 1000:g}k, CPU time", sx[1], st[1], "s CPU", peer="sox")


def main() -> None:
    if not have("sox"):
        skipped("preprocess against sox", "sox not installed (apt-get install sox)")
        return
    folder = DATA / f"preprocess_clips_{N_CLIPS}"
    clips = make_clips(folder, N_CLIPS, sr=44100, seconds=CLIP_SECONDS)
    files = sorted(clips.glob("*.wav"))[:N_CLIPS]
    work = Path(tempfile.mkdtemp(prefix="bench-preprocess-", dir=DATA))
    try:
        sox_out = work / "sox"
        sox_out.mkdir()
        ak_out = work / "ak"
        c0 = _children_cpu()
        t_sox = timeit(lambda: _sox_serial(files, sox_out), repeat=2)
        c_sox = (_children_cpu() - c0) / 2
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
        c0 = _children_cpu()
        t_ak1 = run_cmd([*base, "-j", "1"], repeat=2)
        c_ak1 = (_children_cpu() - c0) / 2
        t_ak2 = run_cmd([*base, "-j", "2"], repeat=2)
        label = f"{N_CLIPS} clips x {CLIP_SECONDS:g} s, 44.1k->16k + peak -1 dBFS"
        ratio(f"{label}, serial (-j 1)", t_sox, t_ak1, peer="sox per file")
        ratio(f"{label}, 2 jobs (-j 2)", t_sox2, t_ak2, peer="sox, xargs -P2")
        ratio(f"{label}, serial, CPU time", c_sox, c_ak1, "s CPU", peer="sox per file")
        a = sf.read(ak_out / files[0].name)[0]
        s = sf.read(sox_out / files[0].name)[0]
        print(
            f"  same result: {len(a)} vs {len(s)} samples, peaks "
            f"{20 * np.log10(np.abs(a).max()):.2f} / {20 * np.log10(np.abs(s).max()):.2f} dBFS"
        )

        for sr_long in (22050, 44100):
            _long_file(work, sr_long)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
