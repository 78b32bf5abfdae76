"""One file of a :class:`~audiokit.output.tables.TableSink`: its shape, its writer, and the
rows queued for it (new rows as dicts or columns, and the rows an ``--update`` keeps, copied
as they were stored)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiokit.columns import ColumnBatch
from audiokit.writers import TableWriter

#: Rows buffered before they are written (one Parquet row group).
ROWS_PER_GROUP = 1024


@dataclass(frozen=True)
class TableSpec:
    """The shape of one table: its columns in order, their Parquet types, its key column.

    ``key`` names the column holding the input's path (``path``; ``input`` in
    preprocess reports): rows are matched to inputs by it.
    """

    columns: tuple[str, ...]
    types: Mapping[str, str]
    key: str = "path"


class TableFile:
    """One file of a sink: its target, format, writer and the rows kept from before."""

    def __init__(self, target: Path | None, fmt: str, spec: TableSpec) -> None:
        self.target = target
        self.fmt = fmt
        self.spec = spec
        self.tmp: Path | None = None
        self.writer: TableWriter | None = None
        self.buffer: list[Mapping[str, Any]] = []
        self.batches: list[ColumnBatch] = []  # new rows as columns (features), or ``buffer``
        self.batched = 0  # rows in ``batches``
        self.kept: dict[str, Any] = {}
        self.kept_buffer: list[Any] = []  # stored rows to copy, before ``buffer``'s

    @property
    def queued(self) -> int:
        """New rows waiting to be written."""
        return len(self.buffer) + self.batched

    def keep(self, stored: Any) -> None:
        """Queue the stored rows of one kept input (copied in one batch with their neighbours)."""
        if self.queued:  # new rows came before these: they go first
            self.flush()
        if self.fmt == "parquet":
            table, rows = stored
            if self.kept_buffer and self.kept_buffer[0] is not table:
                self.flush_kept()
            if not self.kept_buffer:
                self.kept_buffer = [table]
            self.kept_buffer.extend(rows)
        else:
            self.kept_buffer.extend(stored)
        if len(self.kept_buffer) >= 16 * ROWS_PER_GROUP:
            self.flush_kept()

    def flush_kept(self) -> None:
        if not self.kept_buffer or self.writer is None:
            return
        stored, self.kept_buffer = self.kept_buffer, []
        if self.fmt == "parquet":
            self.writer.write_records(rows_of(stored[0], stored[1:]))
        else:
            self.writer.write_records(stored)

    def queue(self, rows: Sequence[Mapping[str, Any]] | ColumnBatch) -> None:
        """Queue new rows (dicts, or columns); written together up to :data:`ROWS_PER_GROUP`."""
        if isinstance(rows, ColumnBatch):
            if self.buffer:
                self.flush()
            if rows.n_rows:
                self.batches.append(rows)
                self.batched += rows.n_rows
        else:
            if self.batches:
                self.flush()
            self.buffer.extend(rows)

    def flush(self) -> None:
        """Write what is queued, kept rows first (they came first)."""
        self.flush_kept()
        if self.writer is None:
            return
        if self.buffer:
            rows, self.buffer = self.buffer, []
            self.writer.write(rows)
        if self.batches:
            batches, self.batches, self.batched = self.batches, [], 0
            self.writer.write_columns(ColumnBatch.concat(batches))


def rows_of(table: Any, rows: Sequence[int]) -> Any:
    """``table.take(rows)`` as zero-copy slices of consecutive runs (``take`` of a list of
    Python ints imports pandas: 0.3 s)."""
    import pyarrow as pa

    pieces = []
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        pieces.append(table.slice(start, prev - start + 1))
        if r is not None:
            start = prev = r
    return pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces)
