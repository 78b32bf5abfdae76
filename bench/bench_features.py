"""Benchmark ``audiokit features`` against the tutorial approach.

Baseline: each feature computed by its own librosa call on ``y`` (every
spectral function recomputing its STFT, ``mfcc`` and ``onset_strength``
their own mel spectrogram, ``beat_track`` its own onset envelope), one file
after another, statistics with numpy, one table written at the end. Both
sides run as fresh processes (Python start-up, librosa import and the numba
cache load included on both sides) on the same files with the same feature
set (audiokit's default groups); the baseline is run once untimed first so
that its numba JIT cache is warm, as audiokit's is.

audiokit runs twice per case: with its exact defaults (librosa's values: dB floored
80 dB below the file's maximum, chroma at the file's tuning; files over one block take
two passes) and with ``--frame-local`` (one pass), side by side. The peak memory of a
1-hour file is measured for both; ``AUDIOKIT_BENCH_3H=1`` also synthesises a 3-hour
FLAC (a temporary file, ~2 minutes to write) and measures its peak memory (wait4's
``ru_maxrss`` of the audiokit process; a few minutes per variant).

Run: ``python bench/run.py features``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import AUDIOKIT, DATA, make_clips, make_long, peak_rss_mb, ratio

N_CLIPS = 200
#: The peer: the tutorials' script (one librosa call per feature, file after file).
PEER = "tutorial librosa script"
LONG_SECONDS = 600
HOUR = 3600


def baseline(paths: list[str], out: str) -> None:
    """The tutorial script: one librosa call per feature, file after file."""
    import warnings

    import librosa
    import numpy as np
    import pandas as pd

    warnings.filterwarnings("ignore")
    rows = []
    for path in paths:
        y, sr = librosa.load(path, sr=22050, mono=True)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
        feats = {
            "mfcc": mfcc,
            "mfcc_delta": librosa.feature.delta(mfcc),
            "mfcc_delta2": librosa.feature.delta(mfcc, order=2),
            "mel": librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr)),
            "spectral_centroid": librosa.feature.spectral_centroid(y=y, sr=sr),
            "spectral_bandwidth": librosa.feature.spectral_bandwidth(y=y, sr=sr),
            "spectral_rolloff": librosa.feature.spectral_rolloff(y=y, sr=sr),
            "spectral_contrast": librosa.feature.spectral_contrast(y=y, sr=sr),
            "spectral_flatness": librosa.feature.spectral_flatness(y=y),
            "zcr": librosa.feature.zero_crossing_rate(y),
            "rms": librosa.feature.rms(y=y),
            "chroma": librosa.feature.chroma_stft(y=y, sr=sr),
            "onset_strength": librosa.onset.onset_strength(y=y, sr=sr)[None],
        }
        tempo, beats = librosa.beat.beat_track(y=y, sr=sr)
        row: dict[str, object] = {"path": path, "duration": len(y) / sr}
        for name, m in feats.items():
            for i, v in enumerate(m):
                for stat, fn in (
                    ("mean", np.mean),
                    ("std", np.std),
                    ("min", np.min),
                    ("max", np.max),
                ):
                    row[f"{name}_{i:02d}_{stat}"] = float(fn(v))
        row["tempo"] = float(np.atleast_1d(tempo)[0])
        row["beat_count"] = len(beats)
        rows.append(row)
    pd.DataFrame(rows).to_parquet(out)


def _baseline_cmd(paths: list[str], out: Path) -> list[str]:
    return [sys.executable, __file__, "--baseline", str(out), *paths]


def _time(args: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _best(args: list[str]) -> float:
    """Best of three runs (the baseline also gets three: once as is, twice with one BLAS thread)."""
    return min(_time(args) for _ in range(3))


def _single_blas() -> dict[str, str]:
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _base(paths: list[str], out: Path) -> float:
    """The baseline's best time: as users run it, and with single-threaded BLAS.

    On a busy machine OpenBLAS threads slow small products down (audiokit runs
    with one BLAS thread per process); the faster of the two is the reference.
    """
    default = _time(_baseline_cmd(paths, out))
    single = min(_time(_baseline_cmd(paths, out), env=_single_blas()) for _ in range(2))
    print(f"  baseline: {default:.2f} s as is, {single:.2f} s with one BLAS thread", flush=True)
    return min(default, single)


def _startup() -> float:
    """Fixed cost of a fresh audiokit features process on one clip (best of three)."""
    tiny = make_clips(DATA / "features_one", 1)
    args = [AUDIOKIT, "features", str(tiny), "-q", "--overwrite", "-o", str(DATA / "one.parquet")]
    return min(_time(args) for _ in range(3))


def main() -> None:
    out = DATA / "features_out"
    out.mkdir(parents=True, exist_ok=True)
    clips = make_clips(DATA / "features_clips", N_CLIPS)
    clip_paths = sorted(str(p) for p in clips.glob("*.wav"))[:N_CLIPS]
    long10 = make_long(DATA / "long_600.wav", LONG_SECONDS)
    long60 = make_long(DATA / "long_3600.wav", HOUR)

    _time(_baseline_cmd(clip_paths[:3], out / "warm.parquet"))  # numba cache, page cache
    ours_cmd = [AUDIOKIT, "features", "-q", "--overwrite", "-j", "2"]
    _time([*ours_cmd, *clip_paths[:3], "-o", str(out / "warm2.parquet")])

    start = _startup()
    one = clip_paths[:1]
    base_start = min(
        _time(_baseline_cmd(one, out / "one.parquet"), env=_single_blas()) for _ in range(2)
    )
    print(
        f"start-up of one process on one clip: audiokit {start:.2f} s, "
        f"baseline {base_start:.2f} s (librosa import, numba compilation)",
        flush=True,
    )

    local = ["--frame-local"]
    base = _base(clip_paths, out / "base_clips.parquet")
    for name, extra in (("exact defaults", []), ("--frame-local", local)):
        ours = _best([*ours_cmd, *extra, str(clips), "-o", str(out / "ours_clips.parquet")])
        ratio(f"{N_CLIPS} clips x 1 s, {name}", base, ours, peer=PEER)
        ratio(
            "  same, start-up of each side subtracted",
            base - base_start,
            max(ours - start, 1e-3),
            peer=PEER,
        )

    base = _base([str(long10)], out / "base_long.parquet")
    for name, extra in (("exact defaults", []), ("--frame-local", local)):
        ours = _best([*ours_cmd, *extra, str(long10), "-o", str(out / "ours_long.parquet")])
        ratio(f"one {LONG_SECONDS // 60}-minute file, {name}", base, ours, peer=PEER)
        ratio(
            "  same, start-up of each side subtracted",
            base - base_start,
            max(ours - start, 1e-3),
            peer=PEER,
        )

    for name, extra in (("exact defaults", []), ("--frame-local", local)):
        wall, rss = peak_rss_mb(
            [
                AUDIOKIT,
                "features",
                "-q",
                "--overwrite",
                *extra,
                str(long60),
                "-o",
                str(out / "ours_hour.parquet"),
            ]
        )
        print(f"one 1-hour file, {name}: {wall:.1f} s, peak RSS {rss:.0f} MiB", flush=True)

    if os.environ.get("AUDIOKIT_BENCH_3H"):
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            long3 = make_long(Path(tmp) / "long_3h.flac", 3 * HOUR)
            for name, extra in (("exact defaults", []), ("--frame-local", local)):
                wall, rss = peak_rss_mb(
                    [
                        AUDIOKIT,
                        "features",
                        "-q",
                        "--overwrite",
                        *extra,
                        str(long3),
                        "-o",
                        str(Path(tmp) / "o.pq"),
                    ]
                )
                print(f"one 3-hour file, {name}: {wall:.1f} s, peak RSS {rss:.0f} MiB", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--baseline":
        baseline(sys.argv[3:], sys.argv[2])
    else:
        main()
