"""``audiokit preprocess``: resample, mix down, trim, denoise, filter, normalise, cut, encode."""

from __future__ import annotations

import contextlib
import functools
import os
from pathlib import Path
from typing import Any

import click

from audiokit.cli.common import BatchRun, RowPrinter, choose_format, format_value, print_table
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    csv_option,
    json_option,
    output_option,
    overwrite_option,
    sr_option,
)
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.preprocess.chain import Plan, build_plan


def _subtype(value: str | None) -> str | None:
    if value is None:
        return None
    if value.upper() not in ("PCM_16", "PCM_24", "FLOAT"):
        raise click.BadParameter(f"{value!r} is not one of PCM_16, PCM_24, FLOAT")
    return value.upper()


def _task(job: Any, inp: Input) -> Any:
    from audiokit.preprocess.process import preprocess_file

    return preprocess_file(job, inp)


def _arrow(a: Any, b: Any, fmt: Any = format_value) -> str:
    return f"{fmt(a)} → {fmt(b)}" if a != b else fmt(a)


def _outputs(v: Any) -> str:
    if not v:
        return "-"
    return v[0] if len(v) == 1 else f"{v[0]} (+{len(v) - 1})"


def _flags(row: dict[str, Any]) -> str:
    flags = [k for k in ("limited", "gain_reduced", "streaming") if row.get(k)]
    if row.get("clipped_samples"):
        flags.append("clipped")
    return ",".join(flags) or "-"


def _table_row(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "input": r["input"],
        "output": _outputs(r["outputs"]),
        "duration": _arrow(r["duration_in"], r["duration_out"], lambda v: format_value(v, 3)),
        "sr": _arrow(r["sr_in"], r["sr_out"], str),
        "channels": _arrow(r["channels_in"], r["channels_out"], str),
        "peak": _arrow(round(r["peak_in_dbfs"], 2), round(r["peak_out_dbfs"], 2)),
        "lufs": _arrow(r["lufs_in"], r["lufs_out"]),
        "gain": format_value(r["gain_db"]),
        "flags": _flags(r),
    }


COLUMNS = [
    ("input", "file", str),
    ("output", "output", str),
    ("duration", "duration s", str),
    ("sr", "rate", str),
    ("channels", "ch", str),
    ("peak", "peak dBFS", str),
    ("lufs", "LUFS", str),
    ("gain", "gain dB", str),
    ("flags", "notes", str),
]


@click.command(
    "preprocess",
    epilog="""\b
Steps run in this order (--chain picks another one):
  channels > sr > trim > remove-silence > denoise > highpass > lowpass >
  preemphasis > gain > normalize > pad-to > trim-to > segment > fade
\b
Examples:
  audiokit preprocess raw/ -o clean/ --mono --sr 16000 --normalize loudness
  audiokit preprocess talk.flac -o talk.wav --trim --remove-silence --pad-ms 100
  audiokit preprocess noisy.wav -o quiet.wav --denoise --denoise-strength 0.6 --highpass 80
  audiokit preprocess data/ -o clips/ --mono --sr 16k --segment 4 --overlap 1 --fade-ms 10
  audiokit preprocess data/ -o fixed/ --sr 16000 --pad-to 1 --trim-to 1 --subtype PCM_16
  audiokit preprocess song.wav -o loud.flac --normalize loudness --target -14 --limit
  audiokit preprocess in.wav -o out.wav --sr 16000 --normalize peak --chain normalize,sr
  audiokit preprocess raw/ --dry-run --mono --normalize rms --target -20 --json
  audiokit preprocess raw/ -o clean/ --sr 16000 --report clean/report.parquet
\b
Inputs are never modified and never overwritten; existing outputs are kept
(that input fails) unless --overwrite. Files over 10 minutes whose steps all
work block by block (channels, sr, filters, preemphasis, gain, normalize
without --limit, pad-to, trim-to, segment, fade) are streamed in bounded
memory (--streaming on/off forces the choice).
""",
)
@batch_options
@output_option(
    "Output file (one input, name ending .wav/.flac/.ogg) or directory (mirrors the input tree)."
)
@click.option("--mono", is_flag=True, help="Mix down to one channel (average).")
@click.option(
    "--channel",
    type=click.IntRange(min=0),
    metavar="N",
    help="Keep only channel N (0 = first/left).",
)
@sr_option(default=None, help="Resample to RATE Hz (soxr HQ), e.g. 16000 or 22.05k.")
@click.option("--trim", is_flag=True, help="Cut leading and trailing silence.")
@click.option(
    "--remove-silence",
    is_flag=True,
    help="Cut every silent stretch inside the file, keeping --pad-ms around speech.",
)
@click.option(
    "--top-db",
    type=float,
    default=60.0,
    show_default=True,
    metavar="DB",
    help="Silence: frames this far below the loudest frame (trim, remove-silence).",
)
@click.option(
    "--pad-ms",
    type=click.FloatRange(min=0),
    default=50.0,
    show_default=True,
    metavar="MS",
    help="Margin kept around voiced parts by trim and remove-silence.",
)
@click.option(
    "--denoise",
    is_flag=True,
    help="Spectral gating with a noise profile from the quietest 10% of frames.",
)
@click.option(
    "--denoise-strength",
    type=click.FloatRange(0, 1),
    default=0.8,
    show_default=True,
    metavar="0..1",
    help="How much gated bins are attenuated.",
)
@click.option(
    "--preemphasis", type=float, metavar="COEF", help="Pre-emphasis y[n] - COEF*y[n-1] (e.g. 0.97)."
)
@click.option("--highpass", type=float, metavar="HZ", help="4th-order Butterworth high-pass.")
@click.option("--lowpass", type=float, metavar="HZ", help="4th-order Butterworth low-pass.")
@click.option("--gain", type=float, metavar="DB", help="Fixed gain in dB.")
@click.option(
    "--normalize",
    type=click.Choice(["peak", "rms", "loudness"]),
    help="Normalise the peak or RMS (dBFS) or the BS.1770 loudness (LUFS).",
)
@click.option(
    "--target",
    type=float,
    metavar="LEVEL",
    help="Normalisation target (default: peak -1 dBFS, rms -20 dBFS, loudness -23 LUFS).",
)
@click.option(
    "--ceiling",
    type=float,
    default=-0.1,
    show_default=True,
    metavar="DBFS",
    help="Normalisation never lets peaks exceed this.",
)
@click.option(
    "--limit",
    is_flag=True,
    help="Where the target would pass the ceiling, limit peaks (look-ahead limiter) "
    "instead of lowering the gain.",
)
@click.option("--pad-to", type=float, metavar="SECONDS", help="Pad with zeros to this length.")
@click.option("--trim-to", type=float, metavar="SECONDS", help="Cut to this length.")
@click.option(
    "--segment",
    type=float,
    metavar="SECONDS",
    help="Cut into numbered files of this length (the last holds the rest).",
)
@click.option(
    "--overlap", type=float, default=0.0, metavar="SECONDS", help="Overlap of consecutive segments."
)
@click.option(
    "--fade-ms", type=float, metavar="MS", help="Raised-cosine fade in and out (of each segment)."
)
@click.option(
    "--chain",
    metavar="STEPS",
    help="Step order, e.g. 'mono,sr,normalize'; lists every enabled step, and naming "
    "mono, trim, remove-silence, denoise, preemphasis, normalize or fade enables it.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["wav", "flac", "ogg"]),
    help="Output format (default: -o FILE's extension, else the input's, else wav).",
)
@click.option(
    "--subtype",
    metavar="[PCM_16|PCM_24|FLOAT]",
    callback=lambda ctx, param, v: _subtype(v),
    help="Sample encoding (default: the input's when the format allows it).",
)
@click.option(
    "--no-dither", is_flag=True, help="No TPDF dither when reducing resolution to PCM_16/PCM_24."
)
@click.option(
    "--name",
    metavar="TEMPLATE",
    help="Output names under -o DIR: {stem}, {index} (segments), {ext}; "
    "default '{stem}.{ext}', segments '{stem}_{index:03d}.{ext}'.",
)
@overwrite_option
@click.option("--dry-run", is_flag=True, help="Report what would change; write no audio.")
@json_option
@csv_option
@click.option(
    "--report",
    metavar="FILE",
    help="Also write the report as a table: .parquet, .csv, .tsv or .jsonl.",
)
@click.option(
    "--streaming",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Block-wise processing of long files.",
)
def preprocess_cmd(batch: BatchOptions, output: str | None, **kw: Any) -> None:
    """Prepare audio for features or training, writing new files (inputs are never touched).

    Each option enables one step; the report gives, per input, duration,
    sample rate, channels, peak (dBFS) and loudness (LUFS, ITU-R BS.1770)
    before and after, the gain applied and whether peaks were limited or the
    gain lowered to stay under the ceiling. It prints as a table on a
    terminal, JSON lines when piped (or --json), CSV with --csv.
    """
    from audiokit.preprocess.output import OutputSpec, check_spec, is_audio_name
    from audiokit.preprocess.process import Job

    plan = _plan(kw)
    if output is None and not kw["dry_run"]:
        raise UsageError("give -o OUT (a file for one input, a directory for several) or --dry-run")
    run = BatchRun(batch, desc="preprocess", output=output)
    inputs = run.inputs
    single = False
    if output is not None:
        single = (
            len(inputs) == 1
            and kw["name"] is None
            and is_audio_name(output)
            and not Path(output).is_dir()
        )
        if not single and (
            Path(output).is_file() or (is_audio_name(output) and not Path(output).is_dir())
        ):
            raise UsageError(
                f"-o {output} names a file, but a directory is needed here "
                f"({len(inputs)} inputs{' and --name' if kw['name'] else ''})"
            )
    spec = OutputSpec(
        out=output,
        single=single,
        format=kw["fmt"],
        subtype=kw["subtype"],
        dither=not kw["no_dither"],
        name=kw["name"],
        overwrite=kw["overwrite"],
        dry_run=kw["dry_run"],
        protected=frozenset(os.path.realpath(i.path) for i in inputs),
    )
    check_spec(spec)
    job = Job(plan=plan, spec=spec, streaming=kw["streaming"])
    job.check()
    if output is not None:
        _check_collisions(inputs, spec, "segment" in plan.steps)
    _render(run, job, kw)
    run.exit()


def _plan(kw: dict[str, Any]) -> Plan:
    settings = Plan(
        mono=kw["mono"],
        channel=kw["channel"],
        sr=kw["sr"],
        top_db=kw["top_db"],
        pad_ms=kw["pad_ms"],
        denoise_strength=kw["denoise_strength"],
        highpass=kw["highpass"],
        lowpass=kw["lowpass"],
        preemphasis=kw["preemphasis"],
        gain_db=kw["gain"],
        normalize=kw["normalize"],
        target=kw["target"],
        ceiling=kw["ceiling"],
        limit=kw["limit"],
        pad_to=kw["pad_to"],
        trim_to=kw["trim_to"],
        segment=kw["segment"],
        overlap=kw["overlap"],
        fade_ms=kw["fade_ms"],
    )
    flags = {
        name
        for name, on in (
            ("trim", kw["trim"]),
            ("remove-silence", kw["remove_silence"]),
            ("denoise", kw["denoise"]),
        )
        if on
    }
    return build_plan(settings, flags, kw["chain"])  # no steps: a plain (re-)encode


def _check_collisions(inputs: list[Input], spec: Any, segmented: bool) -> None:
    from audiokit.inputs import check_collisions
    from audiokit.preprocess.output import output_paths, planned_ext

    pairs = []
    for inp in inputs:
        ext = planned_ext(spec, inp.path)
        for p in output_paths(inp, spec, ext, 2 if segmented else None):
            pairs.append((inp, p))
    check_collisions(pairs)


def _render(run: BatchRun, job: Any, kw: dict[str, Any]) -> None:
    fmt = choose_format(kw["as_json"], kw["as_csv"])
    printer = RowPrinter(fmt)
    from audiokit.preprocess.process import warm_up

    task = functools.partial(_task, job)
    with contextlib.ExitStack() as stack:
        writer = None
        if kw["report"] is not None:
            from audiokit.preprocess.output import ROW_TYPES
            from audiokit.writers import TableWriter

            writer = stack.enter_context(
                TableWriter(
                    kw["report"],
                    types=ROW_TYPES,
                    metadata={
                        "audiokit.command": "preprocess",
                        "audiokit.steps": ",".join(job.plan.describe()),
                    },
                )
            )
        for res in run.run(task, warm_up=functools.partial(warm_up, job.plan)):
            rep = res.value
            for w in rep.warnings:
                line = f"audiokit: {rep.input}: warning: {w}"
                if run.progress is not None:
                    run.progress.write(line)
                else:
                    click.echo(line, err=True)
            row = rep.row()
            if writer is not None:
                writer.write([row])
            printer.add(_table_row(row) if fmt == "table" else row)
    if printer.rows:
        title = "dry run: nothing written" if job.spec.dry_run else None
        print_table(printer.rows, COLUMNS, title=title)
