"""The table-or-stdout sink: where every command's rows go.

One :class:`TableSink` per run takes the rows of each input as outcomes arrive,
in input order, and sends them to one of three places:

- ``-o FILE`` (Parquet, CSV, TSV, JSON lines): a temporary file, committed over
  ``FILE`` only when complete and only if some input succeeded (or ``FILE`` is
  new: an empty table still has its header or schema); the output is locked for
  the run; an existing ``FILE`` is refused before any work unless ``--overwrite``
  or ``--update``;
- ``-o -``: standard output, in ``--format`` (CSV by default);
- no ``-o``: standard output as JSON lines or CSV, or collected for a terminal table.

``--update`` keeps the rows of inputs unchanged since the table was written
(same path, size and modification time, and the same parameters) without
decoding them, computes the rest, and with ``--prune`` drops the rows of inputs
that no longer exist. What it needs is stored with the table: in the Parquet
schema metadata (``audiokit.state``), or for text formats in a hidden companion
``.<name>.audiokit-state.json`` committed with it. Kept rows are copied as they
were stored, so an updated table equals a full run's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audiokit.columns import ColumnBatch
from audiokit.errors import OutputError, UsageError
from audiokit.inputs import STDIN, Input
from audiokit.output import files
from audiokit.output.lock import OutputLock
from audiokit.output.policy import TABLE_EXISTS_HINT, Existing, OutputOptions
from audiokit.writers import TableWriter, table_format

#: Schema metadata key (Parquet) / companion file content (text formats) of the update state.
STATE_KEY = "audiokit.state"
STATE_VERSION = 1
#: Rows buffered before they are written (one Parquet row group).
ROWS_PER_GROUP = 1024
STDOUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")

Signature = tuple[int, int]


@dataclass(frozen=True)
class TableSpec:
    """The shape of one table: its columns in order, their Parquet types, its key column.

    ``key`` names the column holding the input's path (``path``; ``input`` in
    preprocess reports): rows are matched to inputs by it.
    """

    columns: tuple[str, ...]
    types: Mapping[str, str]
    key: str = "path"


def state_path(target: str | os.PathLike[str]) -> Path:
    """The companion that holds the update state of a CSV/TSV/JSON-lines table."""
    target = Path(target)
    return target.parent / f".{target.name}.audiokit-state.json"


def signature(path: str) -> Signature | None:
    """(size, modification time in ns) of an input, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def _normal(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True, default=str))


class _Table:
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
            self.writer.write_records(_rows_of(stored[0], stored[1:]))
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


class TableSink:
    """Rows of a run, to a table file, to standard output, or to the terminal.

    Parameters
    ----------
    output
        ``-o``: a file, ``-`` (standard output), or None (print).
    spec
        The main table.
    fmt
        ``--format`` (None: from the file's extension; ``csv`` for ``-o -``).
    print_format
        Without ``-o``: ``jsonl``, ``csv``, ``tsv``, or ``table`` (rows are kept
        in :attr:`rows` for the command to render).
    identity
        The parameters that make the rows what they are (the command, its options):
        stored with the table; ``--update`` refuses a table made with others.
    metadata
        More Parquet schema metadata (versions, constants).
    options
        ``--overwrite`` / ``--update`` / ``--prune`` / ``--wait``.
    companions
        More tables written and committed with the main one (transcribe's per-file
        summary): ``(path, spec)``.
    stdout
        Binary standard output (tests pass their own).
    """

    def __init__(
        self,
        output: str | None,
        spec: TableSpec,
        *,
        fmt: str | None = None,
        print_format: str = "jsonl",
        identity: Mapping[str, Any] | None = None,
        metadata: Mapping[str, str] | None = None,
        options: OutputOptions | None = None,
        companions: Sequence[tuple[str, TableSpec]] = (),
        stdout: IO[bytes] | None = None,
    ) -> None:
        self.output = output
        self.options = options or OutputOptions()
        self.identity = _normal(dict(identity or {}))
        self.metadata = dict(metadata or {})
        self.rows: list[Mapping[str, Any]] = []
        self.succeeded = 0
        self.kept_inputs = 0
        self.pruned = 0
        self.committed = False
        self._stdout = stdout
        self._lock: OutputLock | None = None
        self._order: dict[str, int] = {}
        self._inputs: list[Input] = []
        self._pos = 0
        self._kept_keys: set[str] = set()
        self._leftover: list[str] = []
        self._existed = False
        self._text_stream: IO[str] | None = None
        self._state_text = ""
        self._old_signatures: dict[str, tuple[int, ...]] = {}
        self._last: str | None = None
        self._todo = 0
        self._companion: Path | None = None
        existing = self.options.existing
        if (output is None or output == STDIN) and (
            existing in (Existing.UPDATE, Existing.SKIP) or self.options.prune
        ):
            flag = "--update" if existing is not Existing.SKIP else "--skip-existing"
            raise UsageError(f"{flag} needs -o FILE (a table on disk)")
        if output is None:
            self.mode = "print"
            self.fmt = fmt or print_format
        elif output == STDIN:
            self.mode = "stdout"
            self.fmt = fmt or "csv"
            if self.fmt not in STDOUT_FORMATS:
                raise UsageError(f"--format {self.fmt}: -o - writes {', '.join(STDOUT_FORMATS)}")
        else:
            self.mode = "file"
            if Path(output).is_dir() or output.endswith(("/", os.sep)):
                raise UsageError(f"-o {output} is a directory: name a table file")
            named = table_format(output)
            if fmt is not None and fmt != named:
                raise UsageError(f"-o {output} does not match --format {fmt}")
            self.fmt = named
        target = Path(output) if self.mode == "file" and output else None
        self.tables = [_Table(target, self.fmt, spec)]
        for path, cspec in companions:
            self.tables.append(_Table(Path(path) if self.mode == "file" else None, self.fmt, cspec))

    # ------------------------------------------------------------------ opening

    def open(self, inputs: Sequence[Input]) -> list[Input]:
        """Check, lock and prepare the output; return the inputs that need computing.

        Raises
        ------
        UsageError
            The table exists (without ``--overwrite``/``--update``), is an input, or
            ``--update`` finds it made with other parameters.
        LockedError
            Another run holds the output.
        """
        self._inputs = list(inputs)
        self._order = {inp.path: i for i, inp in enumerate(self._inputs)}
        if self.mode != "file":
            self._open_stream()
            return self._inputs
        main = self.tables[0]
        assert main.target is not None
        for t in self.tables:
            assert t.target is not None
            real, name = os.path.realpath(t.target), t.target.name
            # (realpath only for inputs of the same name: 2,000 inputs cost no 2,000 calls)
            if any(
                os.path.basename(i.path) == name and os.path.realpath(i.path) == real
                for i in self._inputs
            ):
                raise UsageError(f"output {t.target} would overwrite an input")
        self._lock = OutputLock(main.target, wait=self.options.wait)
        self._lock.acquire()
        try:
            files.sweep(main.target.parent)
            todo = self._plan_existing(main)
            self._todo = len(todo)
            self._start_writers()
        except BaseException:
            self._release()
            raise
        return todo

    def _plan_existing(self, main: _Table) -> list[Input]:
        assert main.target is not None
        self._existed = any(t.target is not None and t.target.exists() for t in self.tables)
        existing = self.options.existing
        if not self._existed:
            return self._inputs
        if existing in (Existing.REFUSE, Existing.SKIP):
            there = next(
                t.target for t in self.tables if t.target is not None and t.target.exists()
            )
            raise UsageError(f"{there}: {TABLE_EXISTS_HINT}")
        if existing is Existing.OVERWRITE:
            return self._inputs
        state = self._load_state(main)
        old_inputs: dict[str, list[int]] = state.get("inputs", {})
        for t in self.tables:
            self._load_rows(t)
        # A table's key may be missing from the main table (transcribe: a silent file has
        # a summary row but no segment row): an input has rows when any table holds some.
        have_rows = {k for t in self.tables for k in t.kept}
        current = {inp.display for inp in self._inputs}
        todo: list[Input] = []
        for inp in self._inputs:
            sig = signature(inp.path) if inp.display != STDIN else None
            old = old_inputs.get(inp.display)
            if (
                sig is not None
                and old is not None
                and tuple(old) == sig
                and inp.display in have_rows
            ):
                self._kept_keys.add(inp.display)
            else:
                todo.append(inp)
        keys = dict.fromkeys(k for t in self.tables for k in t.kept)
        for key in keys:
            if key in current:
                continue
            if self.options.prune and not os.path.exists(key):
                self.pruned += 1
            else:
                self._leftover.append(key)
        self.kept_inputs = len(self._kept_keys)
        self._old_signatures = {k: tuple(v) for k, v in old_inputs.items()}
        return todo

    def _load_state(self, main: _Table) -> dict[str, Any]:
        assert main.target is not None
        where = main.target
        try:
            if main.fmt == "parquet":
                import pyarrow.parquet as pq

                meta = pq.ParquetFile(main.target).schema_arrow.metadata or {}
                raw = meta.get(STATE_KEY.encode())
                state = json.loads(raw) if raw else None
            else:
                where = state_path(main.target)
                state = json.loads(where.read_text()) if where.exists() else None
                if state is not None:
                    st = os.stat(main.target)
                    if state.get("table") != [st.st_size, st.st_mtime_ns]:
                        raise UsageError(
                            f"{main.target}: changed since audiokit wrote it, so --update cannot "
                            "trust it: use --overwrite"
                        )
        except UsageError:
            raise
        except (OSError, ValueError) as exc:
            raise UsageError(f"{where}: cannot read it for --update: {exc}") from None
        except Exception as exc:  # pyarrow's errors for a damaged file
            raise UsageError(f"{where}: cannot read it for --update: {exc}") from None
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise UsageError(
                f"{main.target}: not an audiokit table that --update can extend "
                "(no state recorded): use --overwrite"
            )
        old = state.get("identity", {})
        if old != self.identity:
            diff = _differences(old, self.identity)
            raise UsageError(
                f"{main.target}: made with other parameters ({diff}): use the same options, "
                "or --overwrite to start again"
            )
        return state

    def _load_rows(self, t: _Table) -> None:
        """Group the rows of the old table by input, as stored."""
        assert t.target is not None
        key = t.spec.key
        groups: dict[str, Any] = {}
        try:
            if t.fmt == "parquet":
                import pyarrow.parquet as pq

                table = pq.ParquetFile(t.target).read()  # (read_table imports pyarrow.dataset)
                expected = self._writer_schema(t)
                if not table.schema.remove_metadata().equals(expected.remove_metadata()):
                    raise UsageError(
                        f"{t.target}: its columns differ from this command's: use --overwrite"
                    )
                idx: dict[str, list[int]] = {}
                for i, k in enumerate(table.column(key).to_pylist()):
                    idx.setdefault(k, []).append(i)
                for k, rows in idx.items():
                    groups[k] = (table, rows)
            elif t.fmt == "jsonl":
                with open(t.target, encoding="utf-8") as fh:
                    for line in fh:
                        line = line.rstrip("\n")
                        if line:
                            groups.setdefault(json.loads(line).get(key), []).append(line)
            else:
                with open(t.target, newline="", encoding="utf-8") as fh:
                    reader = csv.reader(fh, delimiter="\t" if t.fmt == "tsv" else ",")
                    header = next(reader, None)
                    if header != list(t.spec.columns):
                        raise UsageError(
                            f"{t.target}: its columns differ from this command's: use --overwrite"
                        )
                    k = header.index(key)
                    for rec in reader:
                        groups.setdefault(rec[k], []).append(rec)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"{t.target}: cannot read it for --update: {exc}") from None
        t.kept = groups

    # ------------------------------------------------------------------ writing

    def _writer_schema(self, t: _Table) -> Any:
        return TableWriter(None, "parquet", columns=t.spec.columns, types=t.spec.types).schema()

    def _state(self) -> dict[str, Any]:
        inputs: dict[str, list[int]] = {}
        old = self._old_signatures
        for key in self._leftover:
            if key in old:
                inputs[key] = list(old[key])
        for inp in self._inputs:
            if inp.display == STDIN:
                continue
            if inp.display in self._kept_keys:
                inputs[inp.display] = list(old[inp.display])
                continue
            sig = signature(inp.path)
            if sig is not None:
                inputs[inp.display] = list(sig)
        return {"version": STATE_VERSION, "identity": self.identity, "inputs": inputs}

    def _start_writers(self) -> None:
        state = self._state_text = json.dumps(self._state(), sort_keys=True)
        for i, t in enumerate(self.tables):
            assert t.target is not None
            with files.signals_held():
                t.tmp = files.temp_path(t.target)
            meta = dict(self.metadata)
            if i == 0 and t.fmt == "parquet":
                meta[STATE_KEY] = state
            try:
                t.writer = TableWriter(
                    t.tmp, t.fmt, columns=t.spec.columns, types=t.spec.types, metadata=meta
                )
            except OSError as exc:
                raise files.os_error(exc, t.target) from None
        for key in self._leftover:  # rows of inputs not in this run come first, as they were
            self._write_kept(key)

    def _open_stream(self) -> None:
        t = self.tables[0]
        if self.mode == "print" and self.fmt == "table":
            return
        out = self._stdout or sys.stdout.buffer
        if self.fmt == "parquet":
            if self.mode == "print" or _isatty(out):
                raise UsageError("Parquet is binary: write it to a file or a pipe (-o FILE)")
            t.writer = TableWriter(
                None, "parquet", t.spec.columns, t.spec.types, self.metadata, stream=out
            )
            return

        self._text_stream = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
        fmt = "jsonl" if self.fmt in ("json", "jsonl") else self.fmt
        t.writer = TableWriter(None, fmt, t.spec.columns, t.spec.types, stream=self._text_stream)

    def _write_kept(self, key: str) -> None:
        for t in self.tables:
            stored = t.kept.get(key)
            if stored is not None and t.writer is not None:
                t.keep(stored)

    def add(
        self, inp: Input, rows: Sequence[Mapping[str, Any]] | ColumnBatch, table: int = 0
    ) -> None:
        """Rows of one input that was computed (call in input order; ``table``: a companion).

        ``rows``: dicts, or a :class:`~audiokit.columns.ColumnBatch` (written from its
        columns, in pieces of :data:`ROWS_PER_GROUP` rows: the same table, byte for byte,
        as the pieces' rows would make).
        """
        if table == 0 and inp.path != self._last:
            self._last = inp.path
            self.succeeded += 1
            self._catch_up(inp)
        if self.mode == "print" and self.fmt == "table":
            if table == 0:
                self.rows.extend(rows.to_rows() if isinstance(rows, ColumnBatch) else rows)
            return
        pieces = rows.chunks(ROWS_PER_GROUP) if isinstance(rows, ColumnBatch) else [rows]
        for piece in pieces:
            self._add(self.tables[table], piece)

    def _add(self, t: _Table, rows: Sequence[Mapping[str, Any]] | ColumnBatch) -> None:
        try:
            if self.mode == "file":
                t.flush_kept()
                t.queue(rows)
                if t.queued >= ROWS_PER_GROUP:
                    t.flush()
            elif t.writer is not None:
                if isinstance(rows, ColumnBatch):
                    t.writer.write_columns(rows)
                else:
                    t.writer.write(rows)
                if self._text_stream is not None:
                    self._text_stream.flush()
        except BrokenPipeError:
            raise  # the reader went away (`| head`): not an error
        except OSError as exc:
            raise files.os_error(exc, t.target or "-") from None

    def _catch_up(self, inp: Input | None) -> None:
        """Write the kept rows of the inputs before ``inp`` (all, for None)."""
        end = len(self._inputs) if inp is None else self._order.get(inp.path, self._pos)
        while self._pos < end:
            key = self._inputs[self._pos].display
            if key in self._kept_keys:
                self._write_kept(key)
            self._pos += 1
        if inp is not None and self._pos == end:
            self._pos = end + 1

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        """Finish and commit (file mode), or flush (streams). Raises OutputError on failure."""
        try:
            if self.mode == "file":
                self._catch_up(None)
                for t in self.tables:
                    t.flush()
                    assert t.writer is not None
                    t.writer.close()
                self._commit()
            else:
                for t in self.tables:
                    if t.writer is not None:
                        t.writer.close()
        except BrokenPipeError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise files.os_error(exc, self.output or "-") from None
        except BaseException:
            self.abort()
            raise
        finally:
            self._release()

    def _commit(self) -> None:
        # Nothing succeeded (or nothing to do and nothing pruned): the table on disk
        # stays as it was, byte for byte.
        changed = self.succeeded > 0 or (self.pruned > 0 and self._todo == 0)
        if self._existed and not changed:
            self.abort()
            return
        pairs: list[tuple[Path, Path]] = []
        for t in self.tables:
            assert t.tmp is not None and t.target is not None
            pairs.append((t.tmp, t.target))
        main = self.tables[0]
        if main.fmt != "parquet":
            assert main.tmp is not None and main.target is not None
            st = os.stat(main.tmp)
            state = json.loads(self._state_text)
            state["table"] = [st.st_size, st.st_mtime_ns]
            with files.signals_held():
                companion = files.temp_path(state_path(main.target))
                pairs.append((companion, state_path(main.target)))
                self._companion = companion  # removed by abort() if the next steps fail
            companion.write_text(json.dumps(state, sort_keys=True))
        replace = self.options.existing in (Existing.OVERWRITE, Existing.UPDATE)
        if not self._existed and main.fmt != "parquet" and main.target is not None:
            # A state companion left without its table (the table was deleted): stale.
            with contextlib.suppress(OSError):
                os.unlink(state_path(main.target))
        # A new table is committed without replacing: nothing may appear in its place
        # meanwhile (the lock keeps audiokit runs out; os.link everything else).
        files.commit_set(pairs, replace=replace)
        self.committed = True

    def abort(self) -> None:
        """Drop what was written (the old output stays)."""
        if self._companion is not None:
            with contextlib.suppress(OSError):
                self._companion.unlink()
            self._companion = None
        for t in self.tables:
            if t.writer is not None:
                t.writer.abort()
                t.writer = None
            if t.tmp is not None:
                with contextlib.suppress(OSError):
                    t.tmp.unlink()
                t.tmp = None

    def _release(self) -> None:
        if self._text_stream is not None:
            # Hand standard output back as it was: a wrapper that is collected closes its
            # buffer, and the command may still print.
            with contextlib.suppress(Exception):
                self._text_stream.flush()
            with contextlib.suppress(Exception):
                self._text_stream.detach()  # type: ignore[attr-defined]
            self._text_stream = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> TableSink:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
            self._release()


def _rows_of(table: Any, rows: Sequence[int]) -> Any:
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


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(parts[:4]) + ("; ..." if len(parts) > 4 else "") if parts else "unknown"


__all__ = ["OutputError", "TableSink", "TableSpec", "signature", "state_path"]
