"""Glue between the batch engine and the commands: run, report failures, render rows."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, TypeVar

import click

from audiokit import batch as engine
from audiokit.batch import Failure, Progress, Success
from audiokit.cli.options import BatchOptions
from audiokit.errors import ExitStatus, OutputError, UsageError, safe_text
from audiokit.inputs import Input, discover, parse_extensions
from audiokit.output.files import scratch_name, sweep_scratch
from audiokit.output.lock import OutputLock
from audiokit.output.naming import decide
from audiokit.output.tables import TableSink
from audiokit.writers import refuse_existing

T = TypeVar("T")


class BatchRun:
    """One command's batch: discovers inputs, runs tasks, prints failures, knows the exit code.

    Parameters
    ----------
    opts
        The command's batch options.
    desc
        Label of the progress bar.
    output
        The command's output file or directory, if any: excluded from directory walks.

    Raises
    ------
    audiokit.errors.UsageError
        No inputs at all.
    """

    def __init__(self, opts: BatchOptions, desc: str = "", output: str | None = None) -> None:
        self.opts = opts
        self.desc = desc
        stdin: IO[bytes] = sys.stdin.buffer
        notes: list[str] = []
        self.inputs, problems = discover(
            opts.paths,
            opts.files_from,
            parse_extensions(opts.ext),
            stdin=stdin,
            exclude=[output] if output and output != "-" else [],
            notes=notes,
        )
        for note in notes:
            click.echo(f"audiokit: {safe_text(note)}", err=True)
        self.failures = 0
        self.failed: list[Failure] = []
        """Every failure reported, in order (a report lists them)."""
        self.done = 0
        self.skipped = 0
        self.started = time.monotonic()
        self.progress: Progress | None = None
        self.writes: list[str] = []
        """Directories the tasks write outputs into (set by :func:`file_outputs`)."""
        for inp, reason in problems:
            self.report(Failure(inp, reason))

    def run(
        self,
        task: Callable[[Input], T],
        inputs: Sequence[Input] | None = None,
        weights: Sequence[float] | None = None,
        unit: str = "file",
        warm_up: Callable[[], object] | None = None,
    ) -> Iterator[Success[T]]:
        """Run ``task`` over the inputs; yield successes in order, report failures on stderr.

        ``warm_up`` runs before workers are forked (see :mod:`audiokit.warmup`), or in
        each Dask worker before its first task with ``--scheduler``.
        """
        inputs = self.inputs if inputs is None else inputs
        show = not self.opts.quiet and len(inputs) > 1 and _isatty(sys.stderr)
        total = sum(weights) if weights is not None else len(inputs)
        stack = contextlib.ExitStack()
        try:
            executor = stack.enter_context(self.cluster(inputs)) if inputs else None
            self.progress = Progress(show, total, unit, self.desc or None)
            for out in engine.run(
                task,
                inputs,
                self.opts.jobs,
                self.opts.fail_fast,
                self.progress,
                weights,
                warm_up,
                executor=executor,
            ):
                if self.opts.strict and out.notes and not isinstance(out, Failure):
                    out = Failure(out.input, f"{out.notes[0]} (--strict)")
                for note in out.notes if not isinstance(out, Failure) else ():
                    self.warn(f"audiokit: {out.input.display}: {note}")
                if isinstance(out, Failure):
                    self.report(out)
                else:
                    self.done += 1
                    yield out
        finally:
            if self.progress is not None:
                self.progress.close()
            self.progress = None
            stack.close()

    def cluster(self, inputs: Sequence[Input]) -> contextlib.AbstractContextManager[Any]:
        """The Dask cluster of ``--scheduler`` (connected and checked), or nothing."""
        if not self.opts.scheduler:
            return contextlib.nullcontext()
        from audiokit.dask_engine import DaskExecutor, parse_address  # only --scheduler

        return DaskExecutor(
            parse_address(self.opts.scheduler),
            probe=sorted({inputs[0].path, inputs[-1].path}) if inputs else [],
            writes=self.writes,
            one_per_task=bool(self.writes),
        )

    def skip(self, count: int) -> None:
        """Count inputs left alone (their outputs exist, or are up to date)."""
        self.skipped += count

    def fail_all(self, failures: Iterable[tuple[Input, str]]) -> None:
        """Report inputs refused before any work (an existing output, a name taken twice)."""
        for inp, reason in failures:
            self.report(Failure(inp, reason))

    def say(self, line: str, stdout: bool = False) -> None:
        """A per-file line (not an error): through the progress bar; nothing with ``-q``."""
        if self.opts.quiet:
            return
        if not stdout:  # a message; data on stdout is the caller's to format
            line = safe_text(line)
        if self.progress is not None:
            self.progress.write(line, stdout=stdout)
        else:
            click.echo(line, err=not stdout)

    def warn(self, line: str) -> None:
        """A warning line on stderr (shown with ``-q`` too), without breaking the bar."""
        line = safe_text(line)
        if self.progress is not None:
            self.progress.write(line)
        else:
            click.echo(line, err=True)

    def report(self, failure: Failure) -> None:
        """Print ``audiokit: <path>: <reason>`` (and the traceback with ``-v``); count it."""
        self.failures += 1
        self.failed.append(failure)
        line = f"audiokit: {safe_text(failure.message)}"
        if self.opts.traceback and failure.detail:
            line = failure.detail.rstrip() + "\n" + line
        if self.progress is not None:
            self.progress.write(line)
        else:
            click.echo(line, err=True)

    def fail(self, inp: Input, exc: BaseException) -> None:
        """Report an error that happened in this process while handling ``inp``'s result."""

        self.report(Failure(inp, engine.describe(exc, inp), traceback.format_exc()))

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.FAILED if self.failures else ExitStatus.OK

    def summary(self) -> str:
        """``3 done, 1 skipped, 0 failed in 2.1 s``."""
        elapsed = time.monotonic() - self.started
        return (
            f"{self.done} done, {self.skipped} skipped, {self.failures} failed in {elapsed:.1f} s"
        )

    def exit(self) -> None:
        """End the command with the batch's exit status (a summary line on a terminal)."""
        if not self.opts.quiet and _isatty(sys.stderr):
            click.echo(f"audiokit: {self.summary()}", err=True)
        raise click.exceptions.Exit(int(self.exit_status))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    return _isatty(sys.stdout)


def choose_format(as_json: bool, as_csv: bool, table_format: str | None = None) -> str:
    """How rows print without ``-o``: ``jsonl``, ``csv``, ``tsv``, ``parquet`` or ``table``.

    ``--json``/``--csv`` or ``--format``; otherwise a rich table on a terminal and
    JSON lines when piped.
    """
    chosen = [f for f, on in (("jsonl", as_json), ("csv", as_csv)) if on]
    if table_format:
        chosen.append(table_format)
    if len(set(chosen)) > 1:
        raise click.UsageError("--json, --csv and --format name different formats")
    if chosen:
        return chosen[0]
    return "table" if stdout_is_tty() else "jsonl"


def format_value(value: Any, digits: int = 2) -> str:
    """Human formatting for table cells."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), float("-inf")):
            return "-inf" if value < 0 else "inf"
        return f"{value:.{digits}f}"
    return str(value)


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[tuple[str, str, Callable[[Any], str]]],
    title: str | None = None,
    droppable: Sequence[str] = (),
) -> None:
    """Render rows as a rich table on stdout.

    Parameters
    ----------
    rows
        The rows; missing keys show as ``-``.
    columns
        ``(key, header, formatter)`` in display order.
    droppable
        Keys of columns to leave out, first to last, while the table is wider than the terminal.
    """
    # rich (~60 ms to import) only for a table drawn on a terminal: not --json, CSV or a file
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()

    def cell(fmt: Callable[[Any], str], value: Any) -> str:
        return "-" if value is None else fmt(value)

    cells = [[cell(fmt, row.get(key)) for key, _, fmt in columns] for row in rows]
    widths = [
        max([len(header)] + [len(r[i]) for r in cells]) + 2
        for i, (_, header, _) in enumerate(columns)
    ]
    keep = list(range(len(columns)))
    left_out: list[str] = []
    for key in droppable:
        if sum(widths[i] for i in keep) + len(keep) + 1 <= console.width:
            break
        if any(columns[i][0] == key for i in keep):
            left_out.append(next(h for k, h, _ in columns if k == key))
        keep = [i for i in keep if columns[i][0] != key]
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for i in keep:
        key, header, _ = columns[i]
        numeric = key not in TEXT_COLUMNS
        # Never cut a cell mid-word: a path too long for the terminal wraps as a whole line.
        table.add_column(
            header, justify="right" if numeric else "left", no_wrap=True, overflow="ignore"
        )
    for r in cells:
        table.add_row(*(r[i] for i in keep))
    console.print(table, crop=False)
    if left_out:
        click.echo(
            f"audiokit: columns left out to fit the terminal: {', '.join(left_out)} "
            "(--json or --csv show every column)",
            err=True,
        )


#: Columns shown left-aligned (text).
TEXT_COLUMNS = frozenset({"path", "input", "output", "format", "subtype", "file", "flags"})


def stdout_scratch() -> str:
    """A private scratch directory for an output bound for standard output (``-o -``)."""

    sweep_scratch(tempfile.gettempdir())
    return tempfile.mkdtemp(prefix=scratch_name("stdout"))


@contextlib.contextmanager
def file_outputs(
    run: BatchRun,
    plans: Sequence[Any],
    options: Any,
    targets: Callable[[Input], Sequence[Any]],
) -> Iterator[list[Input]]:
    """Lock a per-file command's outputs and sort its inputs; yield the ones to run.

    Inputs whose outputs exist are reported (one line each) or skipped, as the
    options say (:func:`audiokit.output.naming.decide`). With ``-o -`` the file the
    task wrote to the scratch directory is copied to standard output at the end.
    """

    main = plans[0]
    with contextlib.ExitStack() as stack:
        # A run over many inputs holds its output directory; a run over one input holds
        # its files, and shares the directory with other such runs (make -j).
        locks: dict[str, tuple[str, bool, bool]] = {}
        for plan in plans:
            if plan.mode == "stdout":
                stack.callback(shutil.rmtree, plan.root, True)
                continue
            if plan.mode == "dir":
                shared = len(run.inputs) == 1
                locks.setdefault(os.path.realpath(plan.root), (plan.root, True, shared))
            if plan.mode == "file" or len(run.inputs) == 1:
                for target in targets(run.inputs[0]) if run.inputs else ():
                    locks[os.path.realpath(target)] = (str(target), False, False)
        for target, directory, shared in locks.values():
            stack.enter_context(
                OutputLock(target, directory=directory, wait=options.wait, shared=shared)
            )
        run.writes = [p.root if p.mode != "file" else os.path.dirname(p.root) or "." for p in plans]
        decisions = decide(main, run.inputs, options, targets)
        run.fail_all(decisions.failures)
        run.skip(len(decisions.skipped))
        yield decisions.todo
        if main.mode == "stdout" and run.done:
            copy_to_stdout(os.path.join(main.root, n) for n in sorted(os.listdir(main.root)))


def copy_to_stdout(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Copy finished files to standard output, in order (``-o -``); a closed pipe is not an
    error."""
    out = sys.stdout.buffer
    for path in paths:
        with open(path, "rb") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
    with contextlib.suppress(BrokenPipeError):
        out.flush()


def table_sink(
    output: str | None,
    spec: Any,
    *,
    table_format: str | None,
    as_json: bool = False,
    as_csv: bool = False,
    terminal: bool = True,
    **kw: Any,
) -> Any:
    """The command's :class:`~audiokit.output.tables.TableSink` from its -o/--format/--json/--csv.

    ``--format`` names the format of ``-o -`` (or is checked against ``-o FILE``), or
    of standard output without ``-o``; ``terminal``: a rich table when printing to a
    terminal (else JSON lines there too). ``kw``: the sink's identity, metadata, options.
    """

    printed = choose_format(as_json, as_csv, None if output else table_format)
    if printed == "table" and not terminal:
        printed = "jsonl"
    return TableSink(output, spec, fmt=table_format if output else None, print_format=printed, **kw)


def refuse_existing_output(path: str, options: Any) -> None:
    """A one-file output (a model) that exists without --overwrite: a usage error, before work."""

    try:
        refuse_existing(path, options.replace)
    except OutputError as exc:
        raise UsageError(str(exc)) from None
