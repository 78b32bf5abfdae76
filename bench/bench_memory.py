"""Peak memory of every command on one 3-hour file (and its time), for the summary table.

The file is 3 hours of 22.05 kHz mono 16-bit WAV (476 MB, music-like tones and noise;
``.bench/long_3h.wav``, written block by block once and reused). Each command runs as a
fresh process with its defaults (all cores); the figure is the peak RSS of its largest
process (``wait4``'s ``ru_maxrss``), so worker processes count one at a time.

``transcribe`` decodes the whole file to 16 kHz before Whisper sees it; the file is
tones, so Silero VAD (on by default) leaves Whisper nothing to decode and the figure
is the decode and the VAD pass. ``AUDIOKIT_BENCH_NO_3H=1`` skips this benchmark.

Run: ``python bench/run.py memory`` (about 10 minutes; 2 minutes more the first time).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from common import AUDIOKIT, DATA, MEMORY, make_long, peak_rss_mb

HOURS = 3


def _commands(src: str, out: Path) -> list[tuple[str, list[str]]]:
    o = str(out)
    return [
        ("inspect", ["inspect", src, "--json"]),
        ("inspect --loudness", ["inspect", src, "--loudness", "--json"]),
        ("check --preset ebu-r128", ["check", src, "--preset", "ebu-r128"]),
        ("report", ["report", src, "-o", f"{o}/report.html", "--overwrite"]),
        ("features (exact defaults)", ["features", src, "-o", f"{o}/f.parquet", "--overwrite"]),
        (
            "features --frame-local",
            ["features", src, "--frame-local", "-o", f"{o}/f.parquet", "--overwrite"],
        ),
        ("plot --kind waveform", ["plot", src, "--kind", "waveform", "-o", f"{o}/w.png"]),
        ("spectrogram", ["spectrogram", src, "-o", f"{o}/s.png"]),
        (
            "preprocess --sr 16000 --normalize peak",
            ["preprocess", src, "--sr", "16000", "--normalize", "peak", "-o", f"{o}/p.wav"],
        ),
        ("transcribe (tiny.en, VAD)", ["transcribe", src, "-o", f"{o}/t.txt"]),
    ]


def main() -> None:
    if os.environ.get("AUDIOKIT_BENCH_NO_3H"):
        MEMORY.append(("every command", None, "skipped: AUDIOKIT_BENCH_NO_3H is set"))
        return
    src = make_long(DATA / "long_3h.wav", HOURS * 3600)
    size = src.stat().st_size / 2**20
    print(f"{src.name}: {HOURS} h, 22.05 kHz mono PCM_16, {size:.0f} MiB", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=DATA))
    try:
        for name, args in _commands(str(src), work):
            for f in work.iterdir():  # each command writes anew
                f.unlink() if f.is_file() else shutil.rmtree(f)
            try:
                wall, mb = peak_rss_mb([AUDIOKIT, *args, "-q"], exit_1_ok=name.startswith("check"))
            except Exception as exc:  # a command that fails is reported, not hidden
                print(f"  {name:<40} failed: {exc}", flush=True)
                MEMORY.append((name, None, f"failed: {exc}"))
                continue
            print(f"  {name:<40} {mb:7.0f} MiB   {wall:7.1f} s", flush=True)
            MEMORY.append((name, mb, f"{wall:.1f} s"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
