"""Glue between the batch engine and the commands: run, report failures, render rows."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import IO, Any, TypeVar

import click

from audiokit import batch as engine
from audiokit.batch import Failure, Progress, Success
from audiokit.cli.options import BatchOptions
from audiokit.errors import ExitStatus
from audiokit.inputs import Input, discover, parse_extensions

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
        self.inputs, problems = discover(
            opts.paths,
            opts.files_from,
            parse_extensions(opts.ext),
            stdin=stdin,
            exclude=[output] if output and output != "-" else [],
        )
        self.failures = 0
        self.progress: Progress | None = None
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

        ``warm_up`` runs before workers are forked (see :mod:`audiokit.warmup`).
        """
        inputs = self.inputs if inputs is None else inputs
        show = not self.opts.quiet and len(inputs) > 1 and _isatty(sys.stderr)
        total = sum(weights) if weights is not None else len(inputs)
        self.progress = Progress(show, total, unit, self.desc or None)
        try:
            for out in engine.run(
                task,
                inputs,
                self.opts.jobs,
                self.opts.fail_fast,
                self.progress,
                weights,
                warm_up,
            ):
                if isinstance(out, Failure):
                    self.report(out)
                else:
                    yield out
        finally:
            self.progress.close()
            self.progress = None

    def report(self, failure: Failure) -> None:
        """Print ``audiokit: <path>: <reason>`` (and the traceback with ``-v``); count it."""
        self.failures += 1
        line = f"audiokit: {failure.message}"
        if self.opts.traceback and failure.detail:
            line = failure.detail.rstrip() + "\n" + line
        if self.progress is not None:
            self.progress.write(line)
        else:
            click.echo(line, err=True)

    def fail(self, inp: Input, exc: BaseException) -> None:
        """Report an error that happened in this process while handling ``inp``'s result."""
        import traceback

        self.report(Failure(inp, engine.describe(exc, inp), traceback.format_exc()))

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.FAILED if self.failures else ExitStatus.OK

    def exit(self) -> None:
        """End the command with the batch's exit status."""
        raise click.exceptions.Exit(int(self.exit_status))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def stdout_is_tty() -> bool:
    return _isatty(sys.stdout)


def choose_format(as_json: bool, as_csv: bool) -> str:
    """``json``, ``csv`` or ``table``: a rich table on a terminal, JSON lines when piped."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv exclude each other")
    if as_json:
        return "json"
    if as_csv:
        return "csv"
    return "table" if stdout_is_tty() else "json"


class RowPrinter:
    """Print rows to stdout as JSON lines or CSV as they arrive; tables at the end."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.rows: list[Mapping[str, Any]] = []
        self._columns: list[str] | None = None

    def add(self, row: Mapping[str, Any]) -> None:
        from audiokit import writers

        if self.fmt == "json":
            click.echo(writers.json_line(row))
        elif self.fmt == "csv":
            if self._columns is None:
                self._columns = list(row.keys())
                click.echo(",".join(self._columns))
            click.echo(writers.rows_to_csv([row]).split("\n", 1)[1], nl=False)
        else:
            self.rows.append(row)


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
    for key in droppable:
        if sum(widths[i] for i in keep) + len(keep) + 1 <= console.width:
            break
        keep = [i for i in keep if columns[i][0] != key]
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for i in keep:
        key, header, _ = columns[i]
        numeric = key not in ("path", "format", "subtype")
        table.add_column(header, justify="right" if numeric else "left", overflow="fold")
    for r in cells:
        table.add_row(*(r[i] for i in keep))
    console.print(table)
