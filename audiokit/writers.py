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
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from audiokit.errors import OutputError, UsageError

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
    """Yield a temporary path beside ``target``; rename it to ``target`` on success.

    The temporary name keeps the target's extension (so libraries that pick a
    format from the name still work) and starts with a dot. Missing parent
    directories are created. On any exception, interrupts included, the
    temporary file is removed and the target is left as it was.

    Parameters
    ----------
    target
        Final path.
    overwrite
        When False, refuse (OutputError) if ``target`` already exists.
    """
    target = Path(target)
    refuse_existing(target, overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent
        )
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", str(target)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        mode = 0o666 & ~_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise


def refuse_existing(target: str | os.PathLike[str], overwrite: bool) -> None:
    """Raise OutputError when ``target`` exists and ``overwrite`` is False.

    Commands call it before the work, to fail fast; :func:`atomic_path` calls it again
    when it writes.
    """
    if not overwrite and os.path.lexists(target):
        raise OutputError("exists (use --overwrite to replace it)", os.fspath(target))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


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
    """How a value appears in CSV: empty for None/NaN, lists joined by ``;``."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "" if math.isnan(value) else str(value)
    if isinstance(value, (list, tuple)):
        return ";".join(str(csv_cell(v)) for v in value)
    return value


class TableWriter:
    """Stream rows into a Parquet, CSV, TSV or JSON-lines file, atomically.

    Use as a context manager; call :meth:`write` with batches of rows (dicts
    with the same keys, in the same order). Parquet gets one row group per
    batch and carries ``metadata`` (str to str) in its schema; the file appears
    at ``path`` only when the block ends without an exception.

    Parameters
    ----------
    path
        Output file; its extension picks the format unless ``fmt`` is given.
    metadata
        Key/value pairs stored in the Parquet schema metadata (ignored otherwise).
    schema
        A ``pyarrow.Schema`` to use instead of inferring one from the first batch.
    types
        Column types by name (``string``, ``int32``, ``int64``, ``float32``,
        ``float64``, ``bool``, ``list<float32>``) for Parquet; columns not named
        are inferred. Give types for columns that may be all-null in a batch.
    fmt
        Force a format (``parquet``, ``csv``, ``tsv``, ``jsonl``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: Mapping[str, str] | None = None,
        schema: Any = None,
        fmt: str | None = None,
        types: Mapping[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.types = dict(types or {})
        self.fmt = fmt or table_format(path)
        self.metadata = dict(metadata or {})
        self.schema = schema
        self.rows_written = 0
        self._ctx: Any = None
        self._tmp: Path | None = None
        self._fh: IO[str] | None = None
        self._csv: Any = None
        self._pq: Any = None
        self._columns: list[str] | None = None

    def __enter__(self) -> TableWriter:
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        if self.fmt in ("csv", "tsv", "jsonl"):
            self._fh = open(self._tmp, "w", newline="", encoding="utf-8")
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            if self._pq is not None:
                self._pq.close()
            elif self.fmt == "parquet" and exc[0] is None:
                # No rows at all: still a valid file, with the columns named in ``types``.
                self._write_empty_parquet()
            if self._fh is not None:
                self._fh.close()
        finally:
            self._ctx.__exit__(*exc)

    def _write_empty_parquet(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = self.schema or pa.schema(
            [pa.field(name, _arrow_type(kind)) for name, kind in self.types.items()]
        )
        schema = schema.with_metadata({**(schema.metadata or {}), **_bytes_meta(self.metadata)})
        pq.write_table(schema.empty_table(), self._tmp)

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append a batch of rows (one Parquet row group)."""
        if not rows:
            return
        if self._columns is None:
            self._columns = list(rows[0].keys())
        if self.fmt == "parquet":
            self._write_parquet(rows)
        elif self.fmt == "jsonl":
            assert self._fh is not None
            for row in rows:
                self._fh.write(json_line(row) + "\n")
        else:
            assert self._fh is not None
            if self._csv is None:
                delim = "\t" if self.fmt == "tsv" else ","
                self._csv = csv.writer(self._fh, delimiter=delim, lineterminator="\n")
                self._csv.writerow(self._columns)
            for row in rows:
                self._csv.writerow([csv_cell(row.get(c)) for c in self._columns])
        self.rows_written += len(rows)

    def _write_parquet(self, rows: Sequence[Mapping[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from audiokit.arrow import column, infer_type

        assert self._columns is not None
        if self.schema is None:
            self.schema = pa.schema(
                [
                    pa.field(
                        c,
                        _arrow_type(self.types[c])
                        if c in self.types
                        else infer_type([r.get(c) for r in rows]),
                    )
                    for c in self._columns
                ]
            )
        if self._pq is None:
            self.schema = self.schema.with_metadata(
                {**(self.schema.metadata or {}), **_bytes_meta(self.metadata)}
            )
            self._pq = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        arrays = [column([r.get(f.name) for r in rows], f.type) for f in self.schema]
        self._pq.write_table(pa.Table.from_arrays(arrays, schema=self.schema))


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
    schema: Any = None,
    types: Mapping[str, str] | None = None,
) -> None:
    """Write all ``rows`` to ``path`` at once (see :class:`TableWriter`)."""
    with TableWriter(path, metadata=metadata, schema=schema, types=types) as w:
        w.write(rows)


def rows_to_csv(rows: Sequence[Mapping[str, Any]], delimiter: str = ",") -> str:
    """Render rows as CSV text with a header line (for standard output)."""
    buf = io.StringIO()
    if rows:
        cols = list(rows[0].keys())
        w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([csv_cell(r.get(c)) for c in cols])
    return buf.getvalue()
