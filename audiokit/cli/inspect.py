"""``audiokit inspect``: file facts and levels."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import click

from audiokit.cli.common import BatchRun, RowPrinter, choose_format, format_value, print_table
from audiokit.cli.options import BatchOptions, batch_options, csv_option, json_option
from audiokit.inputs import Input
from audiokit.inspection import DEFAULT_SILENCE_DB, InspectResult, inspect_file

#: Parquet column types (columns that can be null for some files need a fixed type).
ROW_TYPES = {
    "path": "string",
    "format": "string",
    "subtype": "string",
    "bit_depth": "int32",
    "samplerate": "int32",
    "channels": "int32",
    "frames": "int64",
    "duration": "float64",
    "size_bytes": "int64",
    "bitrate": "float64",
    "channel": "int32",
    "peak_dbfs": "float64",
    "rms_dbfs": "float64",
    "crest_factor_db": "float64",
    "dc_offset": "float64",
    "clipped_fraction": "float64",
    "silent_fraction": "float64",
}


def _task(inp: Input, levels: bool, silence_db: float) -> InspectResult:
    return inspect_file(inp.path, levels=levels, silence_db=silence_db, display=inp.display)


#: Columns left out, first to last, when the terminal is too narrow for the whole table.
DROPPABLE = (
    "bitrate",
    "subtype",
    "dc_offset",
    "crest_factor_db",
    "size_bytes",
    "format",
    "channel",
)


def _pct(v: Any) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


def _size(v: Any) -> str:
    if v is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024 or unit == "GiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return str(v)


def _rate(v: Any) -> str:
    return "-" if v is None else f"{v / 1000:.0f} kb/s"


Column = tuple[str, str, Callable[[Any], str]]

COLUMNS: list[Column] = [
    ("path", "file", str),
    ("format", "format", str),
    ("subtype", "subtype", str),
    ("samplerate", "rate", str),
    ("channels", "ch", str),
    ("duration", "duration s", lambda v: format_value(v, 3)),
    ("size_bytes", "size", _size),
    ("bitrate", "bitrate", _rate),
]
LEVEL_COLUMNS: list[Column] = [
    ("peak_dbfs", "peak dBFS", format_value),
    ("rms_dbfs", "RMS dBFS", format_value),
    ("crest_factor_db", "crest dB", format_value),
    ("dc_offset", "DC", lambda v: format_value(v, 4)),
    ("clipped_fraction", "clipped", _pct),
    ("silent_fraction", "silent", _pct),
]


@click.command(
    "inspect",
    epilog="""\b
Examples:
  audiokit inspect song.flac
  audiokit inspect recordings/ --json | jq 'select(.clipped_fraction > 0)'
  audiokit inspect 'data/**/*.wav' -o inventory.parquet
  audiokit inspect --no-levels --csv corpus/ > headers.csv
  sox in.mp3 -t wav - | audiokit inspect -
  find /data -name '*.wav' -mtime -1 | audiokit inspect --files-from -
""",
)
@batch_options
@click.option(
    "--no-levels", is_flag=True, help="Read headers only (fast): no peak, RMS, clipping, silence."
)
@click.option(
    "--per-channel", is_flag=True, help="One row per channel in JSON, CSV and table files."
)
@click.option(
    "--silence-threshold",
    type=float,
    default=DEFAULT_SILENCE_DB,
    show_default=True,
    metavar="DBFS",
    help="20 ms frames quieter than this count as silent.",
)
@json_option
@csv_option
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write a table: .parquet, .csv, .tsv or .jsonl (by extension).",
)
def inspect_cmd(
    batch: BatchOptions,
    no_levels: bool,
    per_channel: bool,
    silence_threshold: float,
    as_json: bool,
    as_csv: bool,
    output: str | None,
) -> None:
    """Show what each file is and how it sounds in numbers.

    Format, encoding, bit depth, sample rate, channels, frames, duration,
    size and bitrate from the header; with levels (the default): peak and
    RMS in dBFS, crest factor, DC offset, the fraction of clipped samples
    and of silent 20 ms frames, over all channels (--per-channel: each).

    Prints a table on a terminal and JSON lines when piped (or with --json).
    """
    run = BatchRun(batch, desc="inspect", output=output)
    fmt = choose_format(as_json, as_csv)
    printer = RowPrinter(fmt if output is None else "none")
    task = functools.partial(_task, levels=not no_levels, silence_db=silence_threshold)
    with contextlib.ExitStack() as stack:
        writer = None
        if output is not None:
            from audiokit.writers import TableWriter

            writer = stack.enter_context(
                TableWriter(output, metadata={"audiokit.command": "inspect"}, types=ROW_TYPES)
            )
        buffered: list[dict[str, Any]] = []
        for res in run.run(task):
            r = res.value
            rows = r.channel_rows() if per_channel and r.channel_levels else [r.row()]
            if fmt == "json" and not per_channel:
                rows = [r.as_json()]
            if writer is not None:
                buffered.extend(rows)
                if len(buffered) >= 1000:
                    writer.write(buffered)
                    buffered = []
                continue
            for row in rows:
                printer.add(row)
            if fmt == "table" and not per_channel and r.info.channels > 1:
                for c, lv in enumerate(r.channel_levels):
                    printer.add({"path": f"  channel {c}", **lv.as_dict()})
        if writer is not None and buffered:
            writer.write(buffered)
    if printer.rows:
        cols = COLUMNS + ([] if no_levels else LEVEL_COLUMNS)
        if per_channel:
            cols = [*cols[:1], ("channel", "ch#", str), *cols[1:]]
        print_table(printer.rows, cols, droppable=DROPPABLE)
    run.exit()
