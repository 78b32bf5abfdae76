"""Benchmark ``audiokit plot`` / ``audiokit spectrogram``.

1. A 1-hour file (22.05 kHz mono): time and peak RSS to draw its waveform and its
   spectrogram, against a 2-minute file (memory must not grow with duration), and
   against the naive tutorial recipe (librosa.load + waveshow / stft + specshow with
   pyplot) on a 5-minute file (the naive recipe on 1 hour needs > 1.5 GB).
2. A directory of 200 one-second clips: images per second with -j 1 and -j 2, against
   a naive librosa + pyplot loop in one process and a per-file ``python -c`` script.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import AUDIOKIT, DATA, make_clips, make_long, peak_rss_mb, ratio

N_CLIPS = 200
N_PER_FILE_SCRIPT = 12

NAIVE_WAVE = """
import sys, librosa, librosa.display, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
y, sr = librosa.load(sys.argv[1], sr=None)
fig, ax = plt.subplots(figsize=(10, 3))
librosa.display.waveshow(y, sr=sr, ax=ax)
fig.savefig(sys.argv[2], dpi=100)
"""

NAIVE_WAVE_LOOP = """
import sys, librosa, librosa.display, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
args = sys.argv[1:]
for i in range(0, len(args), 2):
    y, sr = librosa.load(args[i], sr=None)
    fig, ax = plt.subplots(figsize=(10, 3))
    librosa.display.waveshow(y, sr=sr, ax=ax)
    fig.savefig(args[i + 1], dpi=100)
    plt.close(fig)
"""

NAIVE_SPEC = """
import sys, numpy as np, librosa, librosa.display, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
def draw(src, dst):
    y, sr = librosa.load(src, sr=None)
    S = librosa.amplitude_to_db(np.abs(librosa.stft(y)), ref=np.max)
    fig, ax = plt.subplots(figsize=(10, 4))
    img = librosa.display.specshow(S, sr=sr, x_axis="time", y_axis="log", ax=ax)
    fig.colorbar(img, ax=ax, format="%+2.0f dB")
    fig.savefig(dst, dpi=100)
    plt.close(fig)
args = sys.argv[1:]
for i in range(0, len(args), 2):
    draw(args[i], args[i + 1])
"""


def _py(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def _long(tmp: Path) -> None:
    one_hour = make_long(DATA / "long_1h.wav", 3600)
    short = make_long(DATA / "long_2min.wav", 120)
    five = make_long(DATA / "long_5min.wav", 300)
    print(f"-- long files (22.05 kHz mono, 16-bit): {one_hour.name}, {short.name}, {five.name}")
    for label, cmd in (
        ("waveform", ["plot", "--kind", "waveform"]),
        ("spectrogram (log)", ["spectrogram", "--scale", "log"]),
    ):
        t_h, m_h = peak_rss_mb(
            [AUDIOKIT, *cmd, str(one_hour), "-o", str(tmp / "h.png"), "--overwrite", "-q"]
        )
        t_s, m_s = peak_rss_mb(
            [AUDIOKIT, *cmd, str(short), "-o", str(tmp / "s.png"), "--overwrite", "-q"]
        )
        print(
            f"{label:<20} 1 h: {t_h:6.2f} s, peak RSS {m_h:6.0f} MiB | "
            f"2 min: {t_s:6.2f} s, peak RSS {m_s:6.0f} MiB | "
            f"memory x{m_h / m_s:4.2f} for 30x the audio",
            flush=True,
        )
    # The naive tutorial recipe, on 5 minutes only.
    t_nw, m_nw = peak_rss_mb(_py(NAIVE_WAVE, str(five), str(tmp / "nw.png")))
    t_w, m_w = peak_rss_mb(
        [AUDIOKIT, "plot", str(five), "-o", str(tmp / "w.png"), "--overwrite", "-q"]
    )
    peer = "librosa.display+pyplot"
    ratio("waveform, 5 min file: time", t_nw, t_w, peer=peer)
    ratio("waveform, 5 min file: peak RSS", m_nw, m_w, "MiB", peer=peer)
    t_ns, m_ns = peak_rss_mb(_py(NAIVE_SPEC, str(five), str(tmp / "ns.png")))
    t_s, m_s = peak_rss_mb(
        [AUDIOKIT, "spectrogram", str(five), "-o", str(tmp / "sp.png"), "--overwrite", "-q"]
    )
    ratio("spectrogram, 5 min file: time", t_ns, t_s, peer=peer)
    ratio("spectrogram, 5 min file: peak RSS", m_ns, m_s, "MiB", peer=peer)


def _wall(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def _cpu() -> float:
    """CPU seconds (user + system) used so far by finished child processes."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _clips(tmp: Path) -> None:
    clips = make_clips(DATA / "plot_clips_200", N_CLIPS)
    files = sorted(clips.glob("*.wav"))[:N_CLIPS]
    print(f"-- {len(files)} clips of 1 s (22.05 kHz): images per second", flush=True)
    for label, cmd in (
        ("waveform", ["plot", "--kind", "waveform"]),
        ("spectrogram", ["spectrogram"]),
    ):
        rates = {}
        for jobs in (1, 2):
            out = tmp / f"{label}-{jobs}"
            shutil.rmtree(out, ignore_errors=True)
            c0 = _cpu()
            t = _wall([AUDIOKIT, *cmd, str(clips), "-o", str(out), "-j", str(jobs), "-q"])
            cpu = _cpu() - c0
            n = len(list(out.rglob("*.png")))
            assert n == len(files), (n, len(files))
            rates[jobs] = n / t
            print(
                f"{label:<12} -j {jobs}: {n} images in {t:6.2f} s = {rates[jobs]:6.1f} img/s "
                f"({1000 * cpu / n:5.1f} ms CPU per image)",
                flush=True,
            )
        print(
            f"{label:<12} -j 2 vs -j 1: x{rates[2] / rates[1]:4.2f} (wall; the 2 cores are "
            f"shared with other jobs, load average now {os.getloadavg()[0]:.1f})"
        )
        loop_args = [a for f in files for a in (str(f), str(tmp / f"loop-{f.stem}.png"))]
        naive = NAIVE_SPEC if label == "spectrogram" else NAIVE_WAVE_LOOP
        t_loop = _wall(_py(naive, *loop_args))
        ratio(
            f"{label} of {len(files)} clips, -j 2: time per image",
            t_loop / len(files),
            1 / rates[2],
            "s/img",
            peer="librosa+pyplot loop",
        )
        if label == "spectrogram":
            t_each = sum(
                _wall(_py(NAIVE_SPEC, str(f), str(tmp / f"each-{f.stem}.png")))
                for f in files[:N_PER_FILE_SCRIPT]
            )
            ratio(
                "spectrogram, a script per clip: time per image",
                t_each / N_PER_FILE_SCRIPT,
                1 / rates[2],
                "s/img",
                peer="python -c per file",
            )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-plot-") as d:
        tmp = Path(d)
        _long(tmp)
        _clips(tmp)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
