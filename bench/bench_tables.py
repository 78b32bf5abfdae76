"""Benchmark writing a ``features --frames`` table: row by row (before) against columnar (after).

A 10-minute 22.05 kHz file (tones and noise, :func:`common.make_long`) is analysed
once with the default feature groups, one row per frame (25,840 rows of 193 float32
features); the compute time is reported apart. The table is then written through
:class:`audiokit.output.tables.TableSink`, as ``audiokit features --frames -o`` does:

- before: ``FeatureResult.rows()`` (one dict per row) in pieces of ``ROWS_PER_GROUP``
  rows, through the row API (``TableSink.add(input, rows)``), as features did until
  the columnar path;
- after: ``TableSink.add(input, FeatureResult.column_batch())``, written from the
  float32 matrix column by column.

Both files are checked equal byte for byte. Run: ``python bench/run.py tables``.
"""

from __future__ import annotations

import filecmp
import time
from pathlib import Path

from common import DATA, make_long, timeit

from audiokit.cli.features import INDEX_TYPES
from audiokit.features import FeatureParams, FeatureResult, extract_file, frame_columns
from audiokit.inputs import Input
from audiokit.output.policy import Existing, OutputOptions
from audiokit.output.tables import ROWS_PER_GROUP, TableSink, TableSpec

SECONDS = 600.0
FORMATS = ("parquet", "csv")


def _spec(params: FeatureParams) -> TableSpec:
    feats = frame_columns(params)
    columns = ("path", "duration", "sample_rate", "frame", "time", *feats)
    return TableSpec(columns, {**INDEX_TYPES, **{c: "float32" for c in feats}})


def _write(out: Path, spec: TableSpec, inp: Input, res: FeatureResult, columnar: bool) -> None:
    prefix = {"path": inp.display, "duration": res.duration, "sample_rate": res.sr}
    options = OutputOptions(existing=Existing.OVERWRITE)
    with TableSink(str(out), spec, options=options) as sink:
        sink.open([inp])
        if columnar:
            sink.add(inp, res.column_batch(prefix))
        else:
            for a in range(0, max(len(res.values), 1), ROWS_PER_GROUP):
                sink.add(inp, res.rows(prefix, a, a + ROWS_PER_GROUP))


def main() -> None:
    src = make_long(DATA / "long600.wav", SECONDS)
    work = DATA / "tables"
    work.mkdir(parents=True, exist_ok=True)
    params = FeatureParams()
    t0 = time.perf_counter()
    res = extract_file(src, params, frames=True)
    compute = time.perf_counter() - t0
    n_rows, n_cols = res.values.shape
    print(
        f"features --frames on {SECONDS / 60:.0f} min at {res.sr} Hz: {n_rows} rows x "
        f"{n_cols} features, compute {compute:6.2f} s",
        flush=True,
    )
    inp = Input(str(src), str(src), str(src))
    spec = _spec(params)
    print(f"{'write':<10} {'row by row':>12} {'columnar':>12} {'speed-up':>10}", flush=True)
    for fmt in FORMATS:
        before_out, after_out = work / f"rows.{fmt}", work / f"columns.{fmt}"
        before = timeit(lambda: _write(before_out, spec, inp, res, False), repeat=2)  # noqa: B023
        after = timeit(lambda: _write(after_out, spec, inp, res, True), repeat=3)  # noqa: B023
        same = filecmp.cmp(before_out, after_out, shallow=False)
        print(
            f"{fmt:<10} {before:10.2f} s {after:10.2f} s {before / after:9.1f}x"
            f"   {'identical bytes' if same else 'FILES DIFFER'}",
            flush=True,
        )
        if not same:
            raise SystemExit(f"{fmt}: the columnar table differs from the row-wise one")


if __name__ == "__main__":
    main()
