"""Start-up time and ``inspect`` throughput, beside soxi and ffprobe when installed."""

from __future__ import annotations

import subprocess
import sys

from common import AUDIOKIT, DATA, have, make_clips, ratio, run_cmd, skipped, timeit

N_FILES = 2000


def main() -> None:
    clips = make_clips(DATA / "clips_2000", N_FILES, sr=16000, seconds=0.5)
    one = str(sorted(clips.glob("*.wav"))[0])
    files = sorted(str(p) for p in clips.glob("*.wav"))[:N_FILES]

    py = sys.executable
    bare = run_cmd([py, "-c", "pass"], repeat=5)
    print(f"python -c pass (interpreter floor)         {bare * 1000:7.1f} ms")
    t = run_cmd([AUDIOKIT, "--help"], repeat=7)
    print(f"audiokit --help                            {t * 1000:7.1f} ms   (target < 150 ms)")
    t = run_cmd([AUDIOKIT, "inspect", "--no-levels", one], repeat=7)
    print(f"audiokit inspect --no-levels one.wav       {t * 1000:7.1f} ms   (target < 250 ms)")
    t_headers = t
    t = run_cmd([AUDIOKIT, "inspect", one], repeat=7)
    print(f"audiokit inspect one.wav (with levels)     {t * 1000:7.1f} ms")
    if have("soxi"):
        t = run_cmd(["soxi", one], repeat=7)
        print(f"soxi one.wav                               {t * 1000:7.1f} ms")
        ratio("one file, headers (a process each)", t, t_headers, "s", peer="soxi")
    else:
        skipped("one file, headers (a process each)", "soxi not installed (apt-get install sox)")
    if have("ffprobe"):
        t = run_cmd(["ffprobe", "-v", "error", "-show_format", "-show_streams", one], repeat=7)
        print(f"ffprobe one.wav                            {t * 1000:7.1f} ms")
        ratio("one file, headers (a process each)", t, t_headers, "s", peer="ffprobe")
    else:
        skipped(
            "one file, headers (a process each)", "ffprobe not installed (apt-get install ffmpeg)"
        )

    print(f"\ndirectory of {len(files)} WAV files (0.5 s, 16 kHz):")
    ours: dict[str, float] = {}
    for label, args in [
        ("audiokit inspect --no-levels -j 2", ["--no-levels", "-j", "2"]),
        ("audiokit inspect (levels) -j 1", ["-j", "1"]),
        ("audiokit inspect (levels) -j 2", ["-j", "2"]),
    ]:
        t = run_cmd([AUDIOKIT, "inspect", str(clips), "--json", "-q", *args], repeat=3)
        ours[label] = t
        print(f"{label:<42} {t:6.2f} s  {len(files) / t:7.0f} files/s   (target >= 300)")
    base_levels = timeit(
        lambda: subprocess.run(
            [
                py,
                "-c",
                "import sys,numpy as np,soundfile as sf\n"
                "for p in sys.argv[1:]:\n"
                "    y,_=sf.read(p,dtype='float32'); a=np.abs(y).max(); r=np.sqrt(np.mean(y*y))",
                *files,
            ],
            check=True,
        ),
        repeat=2,
    )
    print(
        f"{'plain soundfile+numpy loop (peak, RMS)':<42} {base_levels:6.2f} s  "
        f"{len(files) / base_levels:7.0f} files/s"
    )
    n = len(files)
    levels_1 = ours["audiokit inspect (levels) -j 1"]
    levels_2 = ours["audiokit inspect (levels) -j 2"]
    ratio(f"{n} files, levels, -j 1", base_levels, levels_1, "s", peer="soundfile+numpy loop")
    if have("soxi"):
        t = timeit(
            lambda: subprocess.run(["soxi", *files], stdout=subprocess.DEVNULL, check=True),
            repeat=2,
        )
        print(f"{'soxi (one process, headers only)':<42} {t:6.2f} s  {len(files) / t:7.0f} files/s")
        ratio(
            f"{n} files, headers, -j 2",
            t,
            ours["audiokit inspect --no-levels -j 2"],
            "s",
            peer="soxi",
        )
        t = timeit(
            lambda: subprocess.run(
                f"printf '%s\\n' {clips}/*.wav | xargs -P2 -n1 sox -V0 {{}} -n stat 2>/dev/null",
                shell=True,
                check=False,
            ),
            repeat=1,
        )
        print(
            f"{'sox stat (one process per file, -P2)':<42} {t:6.2f} s  "
            f"{len(files) / t:7.0f} files/s"
        )
        ratio(f"{n} files, levels, -j 2", t, levels_2, "s", peer="sox stat -P2")
    else:
        skipped(f"{n} files, headers and levels", "sox not installed (apt-get install sox)")
    if have("ffprobe"):
        t = timeit(
            lambda: subprocess.run(
                f"printf '%s\\n' {clips}/*.wav | xargs -P2 -n1 ffprobe -v error -show_format",
                shell=True,
                stdout=subprocess.DEVNULL,
                check=True,
            ),
            repeat=1,
        )
        print(
            f"{'ffprobe (one process per file, -P2)':<42} {t:6.2f} s  {len(files) / t:7.0f} files/s"
        )
        ratio(
            f"{n} files, headers, -j 2",
            t,
            ours["audiokit inspect --no-levels -j 2"],
            "s",
            peer="ffprobe -P2",
        )
    else:
        skipped(f"{n} files, headers", "ffprobe not installed (apt-get install ffmpeg)")


if __name__ == "__main__":
    main()
