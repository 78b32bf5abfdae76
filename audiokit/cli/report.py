"""``audiokit report``: one page about a whole dataset (HTML, or Markdown with PNGs)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sys

import click

from audiokit import __version__
from audiokit.cli.common import BatchRun
from audiokit.cli.inspect import TABLE_METADATA, table_columns, table_identity
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    label_from_parent_option,
    output_policy_options,
    silence_threshold_option,
    span_options,
)
from audiokit.errors import UsageError
from audiokit.inputs import STDIN
from audiokit.inspection import ROW_TYPES, inspect_row
from audiokit.output.lock import OutputLock
from audiokit.output.policy import Existing, OutputOptions
from audiokit.output.tables import TableSink, TableSpec
from audiokit.report import figures, summary, write
from audiokit.report.collect import collect, table_path
from audiokit.report.page import Meta, Page, command_line


def _date() -> str:
    """Now in UTC, ISO 8601 (``SOURCE_DATE_EPOCH``, when set, for reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = (
        dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc)
        if epoch and epoch.isdigit()
        else dt.datetime.now(dt.timezone.utc)
    )
    return when.isoformat(timespec="seconds")


def _table_sink(
    output: str, silence_db: float, start: float, duration: float | None, outputs: OutputOptions
) -> TableSink:
    """The inspect table kept beside the report for ``--update`` (an ``inspect`` table)."""
    return TableSink(
        str(table_path(output)),
        TableSpec(table_columns(levels=True, per_channel=False, loudness=True), ROW_TYPES),
        identity=table_identity(
            levels=True,
            per_channel=False,
            silence_threshold=silence_db,
            start=start,
            duration=duration,
            loudness=True,
        ),
        metadata=TABLE_METADATA,
        options=outputs,
    )


@click.command(
    "report",
    epilog="""\b
Examples:
  audiokit report data/ -o report.html                  # one self-contained page
  audiokit report data/ -o report.md                    # Markdown + report_files/*.png
  audiokit report data/ -o report.html --label-from-parent --thumbnails 24
  audiokit report data/ -o report.html --update         # again: only new and changed files
  audiokit report 'clips/**/*.wav' -o - > report.html   # HTML on standard output

\b
--update keeps the measurements in an inspect table beside the report
(report.html -> report.inspect.parquet) and measures only new and changed files
(--prune drops the rows of files gone). Outliers: beyond median +- 3 x 1.4826 x MAD
(with a floor per measure), listed with their paths.
""",
)
@batch_options
@silence_threshold_option
@span_options
@label_from_parent_option
@click.option(
    "--thumbnails",
    type=click.IntRange(min=0),
    default=figures.DEFAULT_THUMBNAILS,
    show_default=True,
    metavar="N",
    help="Spectrogram thumbnails of N files spread evenly through the sorted paths (0: none).",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    required=True,
    help="The report: .html (one self-contained file), .md (Markdown, pictures in "
    "<stem>_files/), or '-' for HTML on standard output.",
)
@output_policy_options(per_file=False)
def report_cmd(
    batch: BatchOptions,
    silence_threshold: float,
    start: float,
    duration: float | None,
    label_from_parent: bool,
    thumbnails: int,
    output: str,
    outputs: OutputOptions,
) -> None:
    """Describe a whole dataset on one page: counts, distributions, outliers.

    Counts, total hours, formats, sample rates, channels and bit depths;
    histograms of duration, loudness, peak, clipping, DC offset and silence,
    with the outliers of each listed by path; the class balance with
    --label-from-parent; spectrogram thumbnails of a sample of files; the
    audiokit version and the command that made it. Every file is measured as
    `audiokit inspect` measures it, on all cores.
    """
    to_stdout = output == STDIN
    if to_stdout and (outputs.existing is Existing.UPDATE or outputs.prune):
        raise UsageError("--update needs -o FILE (the measurements are kept beside it)")
    if not to_stdout:
        write.report_format(output)
        write.check(output, outputs.replace)
    run = BatchRun(batch, desc="report", output=None if to_stdout else output)
    task = functools.partial(
        inspect_row,
        levels=True,
        loudness=True,
        silence_db=silence_threshold,
        start=start,
        duration=duration,
    )
    with OutputLock(output, wait=outputs.wait) if not to_stdout else contextlib.nullcontext():
        sink = (
            _table_sink(output, silence_threshold, start, duration, outputs)
            if outputs.existing is Existing.UPDATE
            else None
        )
        got = collect(run.inputs, task, run.run, sink)
        if sink is not None:
            run.skip(got.kept)
            run.say(f"audiokit: {got.measured} measured, {got.kept} kept from {table_path(output)}")
        if not got.rows:
            click.echo("audiokit: no input could be measured: no report written", err=True)
            run.exit()
        summ = summary.summarize(
            got.rows,
            failed=[(f.input.display, f.reason) for f in run.failed],
            labels=[inp.folder for inp in got.inputs] if label_from_parent else None,
        )
        # Histograms first: matplotlib is then imported once, here, and the thumbnails'
        # workers inherit it when they fork.
        hists = figures.histograms(summ.measures)
        thumbs, thumb_failures = figures.thumbnails(
            got.inputs, thumbnails, jobs=batch.jobs, start=start
        )
        notes = [f"no thumbnail for {path}: {why}" for path, why in thumb_failures]
        for note in notes:
            run.warn(f"audiokit: {note}")
        page = Page(
            summary=summ,
            meta=Meta(__version__, command_line(sys.argv), _date()),
            histograms=hists,
            thumbnails=thumbs,
            notes=notes,
        )
        if to_stdout:
            sys.stdout.write(write.html_text(page))
            sys.stdout.flush()
        else:
            written = write.write(page, output, replace=outputs.replace)
            run.say(f"audiokit: report of {summ.files} files -> {written[0]}")
    run.exit()
