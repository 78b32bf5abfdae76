"""Columnar feature tables: a ColumnBatch writes the same table as its rows, byte for byte."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audiokit import writers
from audiokit.arrow import column
from audiokit.columns import ColumnBatch, Constant
from audiokit.features import FeatureResult, extract
from audiokit.inputs import Input
from audiokit.output.policy import Existing, OutputOptions
from audiokit.output.tables import ROWS_PER_GROUP, TableSink, TableSpec
from tests.conftest import sine

SR = 22050
#: Short frames so that a few seconds of audio give more than a row group of frames.
SMALL = ["--n-fft", "256", "--hop-length", "64", "--n-mels", "40"]

TRICKY = np.array(
    [0.1, -0.0, 0.0, 1.0, 1e-5, 1e-4, 123456.0, 1e16, 1e17, 3.4e38, 1.4e-45, math.nan,
     math.inf, -math.inf, -2.5],
    dtype=np.float64,
)  # fmt: skip


def _tricky_batch() -> ColumnBatch:
    n = len(TRICKY)
    rng = np.random.default_rng(3)
    return ColumnBatch.of(
        {
            "path": 'data/a "b", c\n%s é.wav',
            "label": None,
            "duration": 1.5,
            "sample_rate": 22050,
            "frame": np.arange(n, dtype=np.int64),
            "f32": TRICKY.astype(np.float32),
            "f64": TRICKY,
            "strided": rng.standard_normal((n, 3)).astype(np.float32)[:, 1],
            "flag": np.arange(n) % 2 == 0,
            "obj": np.array(["x", None, "a,b", 'q"', 3, 2.5, True, [1, 2]] * 2, dtype=object)[:n],
        },
        n,
    )


def _assert_same_values(got: pa.Table, want: pa.Table) -> None:
    """Equal column by column, NaN equal to NaN (``Table.equals`` says NaN != NaN)."""
    assert got.schema.remove_metadata() == want.schema.remove_metadata()
    assert got.num_rows == want.num_rows
    for name in got.column_names:
        a, b = got.column(name).combine_chunks(), want.column(name).combine_chunks()
        assert a.is_null().equals(b.is_null()), name
        np.testing.assert_array_equal(
            a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False), err_msg=name
        )


def _written(fmt: str, chunks, method: str, tmp_path: Path, **kw) -> bytes:
    out = tmp_path / f"{method}.{fmt}"
    with writers.TableWriter(out, fmt, **kw) as w:
        for c in chunks:
            getattr(w, method)(c)
    return out.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_batch_writes_the_bytes_its_rows_write(tmp_path: Path, fmt: str) -> None:
    batch = _tricky_batch()
    if fmt == "parquet":  # (mixed Python objects have no Arrow type)
        batch = ColumnBatch(batch.names[:-1], batch.data[:-1], batch.n_rows)
    rows = batch.to_rows()
    assert rows[11]["f32"] != rows[11]["f32"]  # NaN as a Python float
    assert rows[0]["frame"] == 0 and type(rows[0]["frame"]) is int
    assert rows[0]["f32"] == float(np.float32(0.1)) and rows[0]["label"] is None
    types = {"path": "string", "sample_rate": "int32", "frame": "int32", "f32": "float32"}
    kw = {"types": types} if fmt == "parquet" else {}
    pieces = [batch.slice(0, 4), batch.slice(4, 11), batch.slice(11, 99)]
    by_rows = _written(fmt, [p.to_rows() for p in pieces], "write", tmp_path, **kw)
    by_cols = _written(fmt, pieces, "write_columns", tmp_path, **kw)
    assert by_cols == by_rows
    if fmt == "parquet":
        table = pq.read_table(io.BytesIO(by_cols))
        assert table.schema.field("f64").type == pa.float64()  # inferred as for rows
        assert table.schema.field("frame").type == pa.int32()
        assert table.column("label").null_count == len(TRICKY)
        assert pq.ParquetFile(io.BytesIO(by_cols)).num_row_groups == 3
    elif fmt == "jsonl":
        first = json.loads(by_cols.decode().splitlines()[12])
        assert first["f32"] is None and first["obj"] == 3  # inf -> null


def test_batch_text_edge_cases() -> None:
    batch = ColumnBatch.of({"x": np.array([math.nan, 1.0]), "s": ""}, 2)
    assert batch.csv_text(["x"]) == '""\n1.0\n'  # a lone empty cell, as csv writes it
    assert batch.csv_text(["x", "s", "missing"]) == ",,\n1.0,,\n"
    assert batch.json_text() == '{"x":null,"s":""}\n{"x":1.0,"s":""}\n'
    empty = batch.slice(2, 5)
    assert empty.n_rows == 0 and empty.csv_text(["x", "s"]) == "" and empty.json_text() == ""
    assert [c.n_rows for c in batch.chunks(1)] == [1, 1]
    assert [c.n_rows for c in empty.chunks(1)] == [0]


def test_concat_keeps_equal_constants_and_joins_the_rest() -> None:
    a = ColumnBatch.of({"p": "a.wav", "d": 1.0, "x": np.array([1.0, 2.0], np.float32)}, 2)
    b = ColumnBatch.of({"p": "b.wav", "d": 1.0, "x": np.array([3.0], np.float32)}, 1)
    both = ColumnBatch.concat([a, b])
    assert both.column("d") == Constant(1.0)
    assert both.to_rows() == a.to_rows() + b.to_rows()
    assert both.column("x").dtype == np.float32  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="different columns"):
        ColumnBatch.concat([a, ColumnBatch.of({"p": "c"}, 1)])


def test_arrow_columns_share_the_feature_buffers() -> None:
    y = sine(440, SR, 0.5) + 0.01 * np.random.default_rng(0).standard_normal(SR // 2).astype(
        np.float32
    )
    res = extract(y, SR, "mfcc,rms", frames=True)
    batch = res.column_batch({"path": "x.wav"})
    schema = pa.schema(
        [("path", pa.string()), ("frame", pa.int64()), ("time", pa.float64())]
        + [(c, pa.float32()) for c in res.columns]
    )
    table = batch.arrow_table(schema)
    want = [column([r[f.name] for r in res.rows({"path": "x.wav"})], f.type) for f in schema]
    assert table.equals(pa.Table.from_arrays(want, schema=schema))
    time = batch.column("time")
    assert isinstance(time, np.ndarray) and np.shares_memory(time, res.start)  # no copy
    rms = batch.column("rms")
    assert isinstance(rms, np.ndarray) and np.shares_memory(rms, res.values)


@pytest.mark.parametrize("kind", ["frames", "windows", "summary"])
def test_column_batch_equals_rows(kind: str) -> None:
    y = sine(330, SR, 1.3)
    res: FeatureResult = extract(
        y, SR, "mfcc,zcr,tempo", frames=kind == "frames", window=0.5 if kind == "windows" else None
    )
    prefix = {"path": "a.wav", "label": "x", "duration": res.duration, "sample_rate": res.sr}
    for start, stop in ((0, None), (2, 5), (1, 1)):
        assert res.column_batch(prefix, start, stop).to_rows() == res.rows(prefix, start, stop)


# ---------------------------------------------------------------------- through the CLI


@pytest.fixture
def batch_dir(write_audio) -> Path:
    """data/<label>/*.wav: two clips whose frames cross a row group, a 1-frame clip (NaN deltas)."""
    rng = np.random.default_rng(1)
    noise = 0.05 * rng.standard_normal(int(2.0 * SR)).astype(np.float32)
    write_audio("data/tone/a.wav", sine(440, SR, 2.0) + noise, SR)
    write_audio("data/tone/b.wav", sine(660, SR, 1.5), SR)
    write_audio("data/tiny/c.wav", sine(1000, SR, 0.002), SR)
    return write_audio("data/tiny/d.wav", sine(220, SR, 0.7), SR).parent.parent


def _row_wise(monkeypatch) -> None:
    """Make ``features`` hand the sink its rows (the row API) instead of columns."""
    monkeypatch.setattr(FeatureResult, "column_batch", lambda self, prefix: self.rows(dict(prefix)))


@pytest.mark.parametrize("shape", [["--frames"], ["--segment", "0.4", "--overlap", "0.1"], []])
def test_cli_tables_equal_the_row_wise_ones(
    runner, cli, batch_dir, tmp_path, monkeypatch, shape
) -> None:
    base = ["features", str(batch_dir), "--label-from-parent", "-j", "1", *SMALL, *shape]
    for ext in ("csv", "jsonl", "parquet"):
        res = runner.invoke(cli, [*base, "-o", str(tmp_path / f"col.{ext}")])
        assert res.exit_code == 0, res.stderr
    stdout_cols = runner.invoke(cli, [*base, "-o", "-", "--format", "tsv"]).stdout
    with monkeypatch.context() as m:
        _row_wise(m)
        for ext in ("csv", "jsonl", "parquet"):
            res = runner.invoke(cli, [*base, "-o", str(tmp_path / f"row.{ext}")])
            assert res.exit_code == 0, res.stderr
        stdout_rows = runner.invoke(cli, [*base, "-o", "-", "--format", "tsv"]).stdout
    for ext in ("csv", "jsonl"):
        assert (tmp_path / f"col.{ext}").read_bytes() == (tmp_path / f"row.{ext}").read_bytes()
    assert stdout_cols == stdout_rows and stdout_cols.count("\n") > 1
    got, want = pq.read_table(tmp_path / "col.parquet"), pq.read_table(tmp_path / "row.parquet")
    assert got.schema == want.schema  # metadata included
    _assert_same_values(got, want)
    rows = got.to_pylist()
    assert {r["label"] for r in rows} == {"tone", "tiny"}
    if shape == ["--frames"]:
        assert len(rows) > ROWS_PER_GROUP
        tiny = [r for r in rows if r["path"].endswith("c.wav")]
        assert len(tiny) == 1 and math.isnan(tiny[0]["mfcc_delta_00"])
        text = (tmp_path / "col.csv").read_text().splitlines()
        header = text[0].split(",")
        cells = next(line for line in text if "c.wav" in line).split(",")
        assert cells[header.index("mfcc_delta_00")] == ""  # NaN is an empty cell, as before


def test_sink_parquet_row_groups_are_those_of_row_chunks(tmp_path: Path) -> None:
    """Batches are cut in ROWS_PER_GROUP pieces and buffered across inputs as rows were."""
    spec = TableSpec(("path", "frame", "x"), {"path": "string", "frame": "int64", "x": "float32"})
    sizes = [1500, 300, 10, 2100]
    inputs = [Input(f"/i{k}.wav", f"i{k}.wav", f"i{k}.wav") for k in range(len(sizes))]
    rng = np.random.default_rng(0)
    batches = [
        ColumnBatch.of(
            {
                "path": inp.display,
                "frame": np.arange(n, dtype=np.int64),
                "x": rng.standard_normal(n).astype(np.float32),
            },
            n,
        )
        for inp, n in zip(inputs, sizes, strict=True)
    ]

    def write(name: str, columnar: bool) -> Path:
        out = tmp_path / name
        with TableSink(str(out), spec, options=OutputOptions(existing=Existing.OVERWRITE)) as s:
            s.open(inputs)
            for inp, b in zip(inputs, batches, strict=True):
                if columnar:
                    s.add(inp, b)
                else:  # what features did before: rows, ROWS_PER_GROUP at a time
                    for piece in b.chunks(ROWS_PER_GROUP):
                        s.add(inp, piece.to_rows())
        return out

    col, row = write("col.parquet", True), write("row.parquet", False)
    assert pq.ParquetFile(col).num_row_groups == pq.ParquetFile(row).num_row_groups == 4
    _assert_same_values(pq.read_table(col), pq.read_table(row))
    assert col.read_bytes() == row.read_bytes()
    meta = pq.ParquetFile(col).schema_arrow.metadata
    assert meta == pq.ParquetFile(row).schema_arrow.metadata


@pytest.mark.parametrize("ext", ["parquet", "csv", "jsonl"])
def test_update_keeps_rows_beside_new_columnar_batches(
    runner, cli, batch_dir, tmp_path, ext
) -> None:
    out, full = tmp_path / f"f.{ext}", tmp_path / f"full.{ext}"
    base = ["features", str(batch_dir), "--frames", "--label-from-parent", "-j", "1", *SMALL]
    assert runner.invoke(cli, [*base, "-o", str(out)]).exit_code == 0
    changed = batch_dir / "tone" / "b.wav"
    changed.write_bytes((batch_dir / "tiny" / "d.wav").read_bytes())
    (batch_dir / "tone" / "e.wav").write_bytes((batch_dir / "tone" / "a.wav").read_bytes())
    res = runner.invoke(cli, [*base, "-o", str(out), "--update"])
    assert res.exit_code == 0, res.stderr
    assert runner.invoke(cli, [*base, "-o", str(full)]).exit_code == 0
    if ext == "parquet":
        _assert_same_values(pq.read_table(out), pq.read_table(full))
    else:
        assert out.read_bytes() == full.read_bytes()
