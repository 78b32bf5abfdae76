"""``audiokit inspect``: file facts and levels."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from audiokit import __version__
from audiokit.cli.common import BatchRun, format_value, print_table, table_sink
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    csv_option,
    json_option,
    output_policy_options,
    per_channel_option,
    silence_threshold_option,
    span_options,
    table_format_option,
)
from audiokit.inspection import (
    LEVEL_KEYS,
    LOUDNESS_KEYS,
    ROW_TYPES,
    inspect_input,
)
from audiokit.output.policy import OutputOptions
from audiokit.output.tables import TableSpec

#: Columns left out, first to last, when the terminal is too narrow for the whole table.
DROPPABLE = (
    "loudness_range_lu",
    "noise_floor_dbfs",
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
LOUDNESS_COLUMNS: list[Column] = [
    ("loudness_lufs", "LUFS", lambda v: format_value(v, 1)),
    ("loudness_range_lu", "LRA", lambda v: format_value(v, 1)),
    ("true_peak_dbtp", "dBTP", format_value),
    ("noise_floor_dbfs", "floor dBFS", lambda v: format_value(v, 1)),
    ("snr_db", "SNR dB", lambda v: format_value(v, 1)),
]

LOUDNESS_HELP = (
    "Also measure loudness and quality in the same pass: loudness_lufs (BS.1770-4 "
    "integrated, gated), loudness_range_lu (EBU Tech 3342 LRA), true_peak_dbtp (4x "
    "oversampled), noise_floor_dbfs (10th percentile of the 20 ms frame RMS, digital "
    "silence left out) and snr_db (90th percentile minus that floor); NaN (null) when too "
    "short or silent. Costs about 0.1 s to load scipy's filter kernel and roughly doubles "
    "the decoding time. With --per-channel each channel is measured as mono."
)


@click.command(
    "inspect",
    epilog="""\b
Examples:
  audiokit inspect song.flac
  audiokit inspect recordings/ --json | jq 'select(.clipped_fraction > 0)'
  audiokit inspect 'data/**/*.wav' -o inventory.parquet
  audiokit inspect data/ -o inventory.parquet --update        # only new and changed files
  audiokit inspect --no-levels --csv corpus/ > headers.csv
  audiokit inspect --loudness speech/ --json | jq '{path, loudness_lufs, snr_db}'
  audiokit inspect corpus/ -o - --format tsv | sort -t$'\\t' -k8 -n
  sox in.mp3 -t wav - | audiokit inspect -
  find /data -name '*.wav' -mtime -1 | audiokit inspect --files-from -
""",
)
@batch_options
@click.option(
    "--no-levels", is_flag=True, help="Read headers only (fast): no peak, RMS, clipping, silence."
)
@per_channel_option("One row per channel in JSON, CSV and table files.")
@click.option("--loudness", is_flag=True, help=LOUDNESS_HELP)
@silence_threshold_option
@span_options
@json_option
@csv_option
@table_format_option
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write a table: .parquet, .csv, .tsv or .jsonl (by extension); '-' for standard "
    "output (--format, default csv).",
)
@output_policy_options(per_file=False)
def inspect_cmd(
    batch: BatchOptions,
    no_levels: bool,
    per_channel: bool,
    loudness: bool,
    silence_threshold: float,
    start: float,
    duration: float | None,
    as_json: bool,
    as_csv: bool,
    table_format: str | None,
    output: str | None,
    outputs: OutputOptions,
) -> None:
    """Show what each file is and how it sounds in numbers.

    Format, encoding, bit depth, sample rate, channels, frames, duration,
    size and bitrate from the header; with levels (the default): peak and
    RMS in dBFS, crest factor, DC offset, the fraction of clipped samples
    and of silent 20 ms frames, over all channels (--per-channel: each);
    with --loudness also LUFS, loudness range, true peak, noise floor and SNR.

    Prints a table on a terminal and JSON lines when piped (or with --json).
    """

    if loudness and no_levels:
        raise click.UsageError("--loudness measures the samples: it excludes --no-levels")
    columns = table_columns(levels=not no_levels, per_channel=per_channel, loudness=loudness)
    sink = table_sink(
        output,
        TableSpec(columns, ROW_TYPES),
        table_format=table_format,
        as_json=as_json,
        as_csv=as_csv,
        identity=table_identity(
            levels=not no_levels,
            per_channel=per_channel,
            silence_threshold=silence_threshold,
            start=start,
            duration=duration,
            loudness=loudness,
        ),
        metadata=TABLE_METADATA,
        options=outputs,
    )
    run = BatchRun(batch, desc="inspect", output=output)
    task = functools.partial(
        inspect_input,
        levels=not no_levels,
        silence_db=silence_threshold,
        start=start,
        duration=duration,
        loudness=loudness,
    )
    fmt = sink.fmt
    nested = output is None and fmt == "jsonl" and not per_channel  # JSON lines keep lanes
    with sink:
        todo = sink.open(run.inputs)
        run.skip(sink.kept_inputs)
        for res in run.run(task, todo):
            r = res.value
            if nested:
                rows = [r.as_json()]
            elif per_channel and r.channel_levels:
                rows = r.channel_rows()
            else:
                rows = [r.row()]
            if sink.mode == "print" and fmt == "table" and not per_channel and r.info.channels > 1:
                rows = rows + [
                    {"path": f"  channel {c}", **lane} for c, lane in enumerate(r.lanes())
                ]
            sink.add(res.input, rows)
    if sink.rows:
        cols = COLUMNS + ([] if no_levels else LEVEL_COLUMNS)
        cols += LOUDNESS_COLUMNS if loudness else []
        if per_channel:
            cols = [*cols[:1], ("channel", "ch#", str), *cols[1:]]
        print_table(sink.rows, cols, droppable=DROPPABLE)
    run.exit()


#: Parquet schema metadata of inspect tables.
TABLE_METADATA = {"audiokit.command": "inspect", "audiokit.version": __version__}


def table_identity(
    *,
    levels: bool,
    per_channel: bool,
    silence_threshold: float,
    start: float,
    duration: float | None,
    loudness: bool,
) -> dict[str, Any]:
    """What makes an inspect table's rows what they are (``--update`` refuses others).

    Shared with ``report``, whose ``--update`` table is an inspect table.
    """
    identity: dict[str, Any] = {
        "command": "inspect",
        "levels": levels,
        "per_channel": per_channel,
        "silence_threshold": silence_threshold,
        "start": start,
        "duration": duration,
    }
    if loudness:  # only when on: tables written before the option existed stay updatable
        identity["loudness"] = True
    return identity


def table_columns(levels: bool, per_channel: bool, loudness: bool = False) -> tuple[str, ...]:
    """The columns of inspect's table for these options (never depends on the inputs)."""
    cols = [c for c in ROW_TYPES if c not in (*LEVEL_KEYS, *LOUDNESS_KEYS, "channel", "warnings")]
    if levels:
        cols += LEVEL_KEYS
    if loudness:
        cols += LOUDNESS_KEYS
    if per_channel:
        cols.append("channel")
    cols.append("warnings")  # what is wrong with a file read anyway (damaged)
    return tuple(cols)
