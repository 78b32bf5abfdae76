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

The sink decides and sequences; :mod:`~audiokit.output.table_state` reads, checks and
records the ``--update`` state, and :mod:`~audiokit.output.table_file` queues and writes
the rows of each file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from audiokit.columns import ColumnBatch
from audiokit.errors import OutputError, UsageError
from audiokit.inputs import STDIN, Input
from audiokit.output import files
from audiokit.output.lock import OutputLock
from audiokit.output.policy import TABLE_EXISTS_HINT, Existing, OutputOptions
from audiokit.output.table_file import ROWS_PER_GROUP, TableFile, TableSpec
from audiokit.output.table_state import (
    STATE_KEY,
    UpdatePlan,
    normal,
    plan_update,
    read_rows,
    read_state,
    signature,
    stamped,
    state_path,
    state_record,
)
from audiokit.writers import TableWriter, table_format

STDOUT_FORMATS = ("csv", "tsv", "jsonl", "parquet")


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
        self.identity = normal(dict(identity or {}))
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
        self._update = UpdatePlan()
        self._existed = False
        self._text_stream: IO[str] | None = None
        self._state_text = ""
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
        self.tables = [TableFile(target, self.fmt, spec)]
        for path, cspec in companions:
            self.tables.append(
                TableFile(Path(path) if self.mode == "file" else None, self.fmt, cspec)
            )

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

    def _plan_existing(self, main: TableFile) -> list[Input]:
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
        state = read_state(main.target, main.fmt, self.identity)
        for t in self.tables:
            assert t.target is not None
            t.kept = read_rows(t.target, t.fmt, t.spec)
        self._update = plan_update(
            self._inputs, state, [t.kept for t in self.tables], prune=self.options.prune
        )
        self.pruned = self._update.pruned
        self.kept_inputs = len(self._update.kept)
        return self._update.todo

    # ------------------------------------------------------------------ writing

    def _start_writers(self) -> None:
        state = self._state_text = json.dumps(
            state_record(self._inputs, self.identity, self._update), sort_keys=True
        )
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
        for key in self._update.leftover:  # rows of inputs not in this run come first, as they were
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

    def _add(self, t: TableFile, rows: Sequence[Mapping[str, Any]] | ColumnBatch) -> None:
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
            if key in self._update.kept:
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
            text = stamped(self._state_text, main.tmp)
            with files.signals_held():
                companion = files.temp_path(state_path(main.target))
                pairs.append((companion, state_path(main.target)))
                self._companion = companion  # removed by abort() if the next steps fail
            companion.write_text(text)
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


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = [
    "ROWS_PER_GROUP",
    "OutputError",
    "TableSink",
    "TableSpec",
    "signature",
    "state_path",
]
