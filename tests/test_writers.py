"""Atomic writes and streamed tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from audiokit import writers
from audiokit.errors import OutputError, UsageError


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), writers.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".txt" and tmp.name.startswith(".")
        tmp.write_text("half-writ")
        raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []
    with pytest.raises(KeyboardInterrupt), writers.atomic_open(target) as fh:
        fh.write("new")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and _leftovers(tmp_path) == []
    with writers.atomic_open(target) as fh:
        fh.write("new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) != "0o600"  # not mkstemp's private mode


def test_atomic_path_no_overwrite_and_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c.bin"
    with writers.atomic_path(target, overwrite=False) as tmp:
        tmp.write_bytes(b"1")
    assert target.read_bytes() == b"1"
    with pytest.raises(OutputError, match="exists"), writers.atomic_path(target, overwrite=False):
        pass


def test_table_writer_streams_row_groups_with_metadata(tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    types = {"x": "float32", "n": "int32"}
    with writers.TableWriter(out, "parquet", metadata={"k": "v"}, types=types) as w:
        w.write([{"name": "a", "x": 1.5, "n": None}, {"name": "b", "x": math.nan, "n": 2}])
        w.write([{"name": "c", "x": 3.0, "n": 3}])
    f = pq.ParquetFile(out)
    assert f.num_row_groups == 2
    assert f.schema_arrow.field("x").type == "float"
    assert f.schema_arrow.field("n").type == "int32"
    assert f.schema_arrow.metadata[b"k"] == b"v"
    assert f.read().column("name").to_pylist() == ["a", "b", "c"]


def test_write_table_interrupted_leaves_old_file(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "t.parquet"
    writers.write_table(out, [{"a": 1}])

    def interrupted(self, rows):
        raise KeyboardInterrupt

    monkeypatch.setattr(writers.TableWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        writers.write_table(out, [{"a": 2}])
    assert pq.read_table(out).column("a").to_pylist() == [1]
    assert _leftovers(tmp_path) == []


def test_empty_tables_keep_their_columns(tmp_path: Path) -> None:
    with writers.TableWriter(tmp_path / "e.csv", "csv", columns=["a", "b"]) as w:
        w.write([])
    assert (tmp_path / "e.csv").read_text() == "a,b\n"
    types = {"a": "string", "b": "float32"}
    with writers.TableWriter(tmp_path / "e.parquet", "parquet", ["a", "b"], types) as w:
        w.write([])
    t = pq.read_table(tmp_path / "e.parquet")
    assert t.num_rows == 0 and t.schema.names == ["a", "b"]
    assert str(t.schema.field("b").type) == "float"


def test_jsonl_and_csv_formats(tmp_path: Path) -> None:
    rows = [{"a": 1, "b": math.nan, "c": [1, 2]}, {"a": 2, "b": -math.inf, "c": []}]
    writers.write_table(tmp_path / "t.jsonl", rows)
    back = [json.loads(x) for x in (tmp_path / "t.jsonl").read_text().splitlines()]
    assert back == [{"a": 1, "b": None, "c": [1, 2]}, {"a": 2, "b": None, "c": []}]
    writers.write_table(tmp_path / "t.csv", rows)
    # nested values are JSON text in CSV
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,c", '1,,"[1,2]"', "2,-inf,[]"]
    with pytest.raises(UsageError, match="unknown table format"):
        writers.table_format("x.xlsx")
