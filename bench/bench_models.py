"""Benchmark ``train`` (5-fold CV + final fit on a 2,000-row table) and ``predict``.

``predict`` over a directory of clips is timed against ``features`` alone on the
same clips with the same parameters (target: within 10 %: the model is loaded once
per worker, not per file, and a prediction costs little next to the features).

Run: ``python bench/run.py models``.
"""

from __future__ import annotations

import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
from common import AUDIOKIT, DATA, make_clips, run_cmd

N_CLIPS = 2000


def main() -> None:
    clips = make_clips(DATA / "clips2000", N_CLIPS)
    work = DATA / "models"
    work.mkdir(parents=True, exist_ok=True)
    table = work / "features.parquet"
    subprocess.run(
        [AUDIOKIT, "features", str(clips), "-o", str(table), "-q", "--overwrite"], check=True
    )
    t = pq.read_table(table)
    labels = pa.array(_pitch_classes(t.column("path").to_pylist()))
    labelled = work / "labelled.parquet"
    pq.write_table(
        t.append_column("label", labels).replace_schema_metadata(t.schema.metadata), labelled
    )
    model = work / "model.skops"
    for name in ("random-forest", "logistic"):
        seconds = run_cmd(
            [
                AUDIOKIT,
                "train",
                str(labelled),
                "-o",
                str(model),
                "--overwrite",
                "--classifier",
                name,
                "--cv",
                "5",
                "-q",
            ],
            repeat=1,
        )
        print(
            f"train {name}: {t.num_rows} rows x {t.num_columns - 3} features, 5-fold CV + "
            f"final fit: {seconds:6.2f} s",
            flush=True,
        )
    subprocess.run(
        [AUDIOKIT, "train", str(labelled), "-o", str(model), "--overwrite", "-q"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    feats = run_cmd(
        [AUDIOKIT, "features", str(clips), "-o", str(work / "f2.parquet"), "-q", "--overwrite"],
        repeat=2,
    )
    pred = run_cmd(
        [
            AUDIOKIT,
            "predict",
            str(model),
            str(clips),
            "-o",
            str(work / "p.parquet"),
            "-q",
            "--overwrite",
        ],
        repeat=2,
    )
    print(
        f"predict {N_CLIPS} clips: {pred:6.2f} s ({N_CLIPS / pred:6.1f} files/s); features "
        f"alone {feats:6.2f} s: predict takes {100 * (pred / feats - 1):+5.1f} %",
        flush=True,
    )


def _pitch_classes(paths: list[str]) -> list[str]:
    """The octave of each clip's tone (low/mid/high), replaying make_clips' generator."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = int(22050 * 1.0)
    octave = {}
    for i in range(N_CLIPS):
        step = int(rng.integers(0, 36))
        rng.standard_normal(n)
        octave[f"clip_{i:05d}.wav"] = ("low", "mid", "high")[step // 12]
    return [octave[p.rsplit("/", 1)[-1]] for p in paths]


if __name__ == "__main__":
    main()
