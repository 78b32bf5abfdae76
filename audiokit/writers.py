"""Writing outputs, always atomically.

Every file audiokit writes goes through :func:`atomic_path`: the data is
written to a hidden temporary file beside the target and renamed over it
only when complete. An interrupted or failed write leaves the old file (or
no file), never a half-written one.

Tables (Parquet, CSV, JSON lines) are streamed with :class:`TableWriter`:
rows arrive in batches and are written as they come (one Parquet row group
per batch), so memory does not grow with the number of inputs.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from audiokit.errors import OutputError, UsageError
from audiokit.output import files
from audiokit.output.policy import EXISTS_HINT

if TYPE_CHECKING:
    from audiokit.columns import ColumnBatch

TABLE_FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".tsv": "tsv",
    ".json": "jsonl",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; commit it to ``target`` on success.

    The temporary name keeps the target's extension (so libraries that pick a
    format from the name still work) and starts with a dot. Missing parent
    directories are created. On any exception, interrupts included, the
    temporary file is removed and the target is left as it was. Without
    ``overwrite`` an existing target is never replaced, even one that appears
    while the data is being written (see :mod:`audiokit.output.files`).

    Raises
    ------
    OutputError
        The target exists (without ``overwrite``), or the write failed (one line:
        ``cannot write: no space left on device``...).
    """
    refuse_existing(target, overwrite)
    with files.staged(target, replace=overwrite) as tmp:
        yield tmp


def refuse_existing(target: str | os.PathLike[str], overwrite: bool) -> None:
    """Raise OutputError when ``target`` exists and ``overwrite`` is False (an early check).

    The commit checks again, without a race (:func:`audiokit.output.files.commit`).
    """
    if not overwrite and os.path.lexists(target):
        raise OutputError(EXISTS_HINT, os.fspath(target))


@contextlib.contextmanager
def atomic_open(
    target: str | os.PathLike[str], mode: str = "w", overwrite: bool = True, **kw: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file for writing; it becomes ``target`` when the block ends cleanly."""
    with atomic_path(target, overwrite=overwrite) as tmp, open(tmp, mode, **kw) as fh:
        yield fh


def table_format(path: str | os.PathLike[str]) -> str:
    """``parquet``, ``csv``, ``tsv`` or ``jsonl`` from a file name.

    Raises
    ------
    UsageError
        For an extension that is not a table format.
    """
    suffix = Path(path).suffix.lower()
    try:
        return TABLE_FORMATS[suffix]
    except KeyError:
        known = ", ".join(sorted(TABLE_FORMATS))
        raise UsageError(f"{path}: unknown table format {suffix!r} (use one of {known})") from None


def json_safe(value: Any) -> Any:
    """Make a value JSON-serialisable: NaN/inf become null, numpy scalars become Python ones."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return json_safe(value.item())
    if hasattr(value, "tolist"):
        return json_safe(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def json_line(row: Mapping[str, Any]) -> str:
    """One JSON object on one line (no NaN: they become null)."""
    return json.dumps(json_safe(row), ensure_ascii=False, separators=(",", ":"))


def csv_cell(value: Any) -> Any:
    """How a value appears in CSV: empty for None/NaN; lists and dicts as JSON text."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    if isinstance(value, (list, tuple, Mapping)):
        return json.dumps(json_safe(value), ensure_ascii=False, separators=(",", ":"))
    return value


class TableWriter:
    """Write rows to a Parquet, CSV, TSV or JSON-lines file, batch by batch.

    A format writer only: it writes where it is told (a temporary file of
    :class:`audiokit.output.tables.TableSink`, or a stream) and is not atomic
    itself. Call :meth:`write` with batches of rows (dicts with the same keys,
    in the same order), then :meth:`close`, which raises if the last bytes
    cannot be written (a full disk): only then is the file complete.

    Parameters
    ----------
    path
        File to write (created or truncated).
    fmt
        ``parquet``, ``csv``, ``tsv`` or ``jsonl``.
    columns
        Column names in order: the header of a CSV table without rows, and the
        schema of an empty Parquet table. Default: the keys of the first row.
    types
        Column types by name (``string``, ``int32``, ``int64``, ``float32``,
        ``float64``, ``bool``, ``list<float32>``...) for Parquet; columns not
        named are inferred from the first batch.
    metadata
        Key/value pairs stored in the Parquet schema metadata (ignored otherwise).
    stream
        Write to this open stream instead of ``path`` (text for CSV/TSV/JSON lines,
        binary for Parquet).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        fmt: str,
        columns: Sequence[str] | None = None,
        types: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        stream: IO[Any] | None = None,
    ) -> None:
        if fmt not in ("parquet", "csv", "tsv", "jsonl"):
            raise UsageError(f"unknown table format {fmt!r}")
        self.path = Path(path) if path is not None else None
        self.fmt = fmt
        self.types = dict(types or {})
        self.metadata = dict(metadata or {})
        self.rows_written = 0
        self._columns: list[str] | None = list(columns) if columns is not None else None
        self._schema: Any = None
        self._pq: Any = None
        self._csv: Any = None
        self._own = stream is None
        self._fh: IO[Any] | None = stream
        if self._fh is None and fmt != "parquet":
            assert self.path is not None
            self._fh = open(self.path, "w", newline="", encoding="utf-8")
        if fmt in ("csv", "tsv"):
            assert self._fh is not None
            self._csv = csv.writer(
                self._fh, delimiter="\t" if fmt == "tsv" else ",", lineterminator="\n"
            )
            if self._columns is not None:
                self._csv.writerow(self._columns)

    @property
    def columns(self) -> list[str] | None:
        return self._columns

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append a batch of rows (one Parquet row group)."""
        if not rows:
            return
        if self._columns is None:
            self._columns = list(rows[0].keys())
            if self._csv is not None:
                self._csv.writerow(self._columns)
        if self.fmt == "parquet":
            self._write_parquet(rows)
        elif self.fmt == "jsonl":
            assert self._fh is not None
            self._fh.write("".join(json_line(row) + "\n" for row in rows))
        else:
            self._csv.writerows([csv_cell(row.get(c)) for c in self._columns] for row in rows)
        self.rows_written += len(rows)

    def write_columns(self, batch: ColumnBatch) -> None:
        """Append a batch of rows held as columns (one Parquet row group).

        The file is the same, byte for byte, as :meth:`write` of ``batch.to_rows()``
        makes; no row is built as a Python dict.
        """
        if not batch.n_rows:
            return
        if self._columns is None:
            self._columns = list(batch.names)
            if self._csv is not None:
                self._csv.writerow(self._columns)
        if self.fmt == "parquet":
            if self._schema is None:
                self._schema = self._schema_for(
                    lambda c: batch.arrow_type(c) if c in batch.names else None
                )
            self._open_parquet()
            self._pq.write_table(batch.arrow_table(self._schema))
        else:
            assert self._fh is not None
            if self.fmt == "jsonl":
                self._fh.write(batch.json_text())
            else:
                self._fh.write(batch.csv_text(self._columns, "\t" if self.fmt == "tsv" else ","))
        self.rows_written += batch.n_rows

    def write_records(self, records: Any) -> None:
        """Append rows kept from an earlier table of the same format, as they were stored.

        Parquet: a ``pyarrow.Table`` with this writer's schema; CSV/TSV: lists of cell
        strings in column order; JSON lines: the lines, without their newline.
        """
        if self.fmt == "parquet":
            self._open_parquet(records.schema)
            if records.num_rows:
                self._pq.write_table(records.cast(self._schema))
            self.rows_written += records.num_rows
            return
        if not records:
            return
        if self.fmt == "jsonl":
            assert self._fh is not None
            self._fh.write("".join(line + "\n" for line in records))
        else:
            self._csv.writerows(records)
        self.rows_written += len(records)

    def schema(self) -> Any:
        """The Parquet schema: from ``types`` and the columns, with the metadata."""
        import pyarrow as pa

        if self._schema is None:
            if self._columns is None:
                self._columns = list(self.types)
            fields = [pa.field(c, _arrow_type(self.types.get(c, "string"))) for c in self._columns]
            self._schema = pa.schema(fields, metadata=_bytes_meta(self.metadata))
        return self._schema

    def _open_parquet(self, schema: Any = None) -> None:
        import pyarrow.parquet as pq

        if self._pq is not None:
            return
        if self._schema is None and schema is not None:
            self._schema = schema.with_metadata(_bytes_meta(self.metadata))
        sink = self._fh if self._fh is not None else self.path
        self._pq = pq.ParquetWriter(sink, self.schema(), compression="zstd")

    def _schema_for(self, infer: Callable[[str], Any]) -> Any:
        """The schema of the columns: ``types``, else ``infer(name)`` (None: all nulls)."""
        import pyarrow as pa

        assert self._columns is not None
        fields = []
        for c in self._columns:
            if c in self.types:
                fields.append(pa.field(c, _arrow_type(self.types[c])))
            else:
                inferred = infer(c)
                fields.append(pa.field(c, pa.null() if inferred is None else inferred))
        return pa.schema(fields, metadata=_bytes_meta(self.metadata))

    def _write_parquet(self, rows: Sequence[Mapping[str, Any]]) -> None:
        import pyarrow as pa

        from audiokit.arrow import column, infer_type

        if self._schema is None:
            self._schema = self._schema_for(lambda c: infer_type([r.get(c) for r in rows]))
        self._open_parquet()
        arrays = [column([r.get(f.name) for r in rows], f.type) for f in self._schema]
        self._pq.write_table(pa.Table.from_arrays(arrays, schema=self._schema))

    def close(self) -> None:
        """Finish the file (Parquet footer, last buffered bytes); raises OSError on failure."""
        if self.fmt == "parquet":
            self._open_parquet()  # no rows at all: still a valid file with its schema
            pq, self._pq = self._pq, None
            pq.close()
        if self._fh is not None:
            fh, self._fh = self._fh, None
            if self._own:
                try:
                    fh.flush()
                    os.fsync(fh.fileno())
                finally:
                    fh.close()
            else:
                fh.flush()

    def abort(self) -> None:
        """Stop writing after a failure (the caller removes the file)."""
        with contextlib.suppress(Exception):
            if self._pq is not None:
                self._pq.close()
        with contextlib.suppress(Exception):
            if self._fh is not None and self._own:
                self._fh.close()
        self._pq = self._fh = None

    def __enter__(self) -> TableWriter:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _arrow_type(name: str) -> Any:
    import pyarrow as pa

    if name.startswith("list<") and name.endswith(">"):
        return pa.list_(_arrow_type(name[5:-1]))
    return {"string": pa.string(), "bool": pa.bool_()}.get(name) or getattr(pa, name)()


def _bytes_meta(meta: Mapping[str, str]) -> dict[bytes, bytes]:
    return {
        k.encode(): (v if isinstance(v, str) else json.dumps(v)).encode() for k, v in meta.items()
    }


def write_table(
    path: str | os.PathLike[str],
    rows: Sequence[Mapping[str, Any]],
    metadata: Mapping[str, str] | None = None,
    types: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    overwrite: bool = True,
) -> None:
    """Write all ``rows`` to ``path`` at once, atomically (format from the extension)."""
    fmt = table_format(path)
    with atomic_path(path, overwrite=overwrite) as tmp:
        w = TableWriter(tmp, fmt, columns=columns, types=types, metadata=metadata)
        try:
            w.write(rows)
            w.close()
        except BaseException:
            w.abort()
            raise
