"""``audiokit preprocess``: resample, mix down, trim, denoise, filter, normalise, cut, encode."""

from __future__ import annotations

import contextlib
import functools
import os
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from audiokit import audio_io, limits
from audiokit.batch import default_jobs
from audiokit.cli.common import (
    BatchRun,
    choose_format,
    file_outputs,
    format_value,
    print_table,
    stdout_scratch,
)
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    csv_option,
    json_option,
    name_option,
    no_dither_option,
    output_option,
    output_policy_options,
    span_options,
    sr_option,
    subtype_option,
)
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.output.naming import plan_files
from audiokit.output.policy import Existing, OutputOptions
from audiokit.output.tables import TableSink, TableSpec
from audiokit.preprocess.chain import DEFAULT_ORDER, Plan, build_plan, settings_from
from audiokit.preprocess.job import estimate_memory
from audiokit.preprocess.output import (
    DEFAULT_NAME,
    DEFAULT_SEGMENT_NAME,
    ROW_TYPES,
    OutputSpec,
    check_spec,
    output_paths,
    planned_ext,
)
from audiokit.preprocess.process import Job, batch_warm_up, preprocess_file
from audiokit.preprocess.registry import OPTIONS
from audiokit.preprocess.spec import Option

F = TypeVar("F", bound=Callable[..., Any])


def click_option(opt: Option) -> Callable[[F], F]:
    """The click option of a step's option spec (:class:`~audiokit.preprocess.registry.Option`)."""
    if opt.kind == "rate":
        return sr_option(default=opt.default, help=opt.help)
    kw: dict[str, Any] = {"help": opt.help}
    if opt.metavar is not None:
        kw["metavar"] = opt.metavar
    if opt.kind in ("flag", "switch"):
        return click.option(opt.flag, is_flag=True, **kw)
    if opt.kind == "choice":
        kw["type"] = click.Choice(list(opt.choices))
    elif opt.kind == "float":
        ranged = opt.minimum is not None or opt.maximum is not None
        kw["type"] = (
            click.FloatRange(opt.minimum, opt.maximum, min_open=opt.min_open) if ranged else float
        )
    if opt.default is not None:
        kw["default"] = opt.default
    if opt.show_default:
        kw["show_default"] = True
    if opt.bare_value is not None:
        kw.update(is_flag=False, flag_value=opt.bare_value, default=opt.default)
    return click.option(opt.flag, **kw)


def step_options(f: F) -> F:
    """Every preprocess step's options, in the order of the step table."""
    for opt in reversed(OPTIONS):
        f = click_option(opt)(f)
    return f


def _order_lines() -> str:
    return "\n".join(
        textwrap.wrap(" > ".join(DEFAULT_ORDER), 72, initial_indent="  ", subsequent_indent="  ")
    )


def _task(job: Any, inp: Input) -> Any:
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
    epilog=f"""\b
Steps run in this order (--chain picks another one):
{_order_lines()}
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
  audiokit preprocess raw/ -o clean/ --sr 16000 --update    # only new or changed inputs
  audiokit preprocess in.mp3 --sr 16000 --format wav -o - | sox - out.flac
\b
Inputs are never modified and never overwritten; existing outputs are kept
(that input fails) unless --overwrite, --skip-existing or --update. Files over
10 minutes whose steps all work block by block (channels, sr, filters, preemphasis, gain, normalize
without --limit, pad-to, trim-to, segment, fade) are streamed in bounded
memory (--streaming on/off forces the choice). The report's lufs_in is
measured on every input; lufs_out only with --measure-output or --normalize
loudness (one BS.1770 pass less per file otherwise).
""",
)
@batch_options
@span_options
@output_option(
    "Output file (one input, name ending .wav/.flac/.ogg), '-' for standard output (one "
    "input; --format picks the format), or a directory (mirrors the input tree)."
)
@step_options
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
@subtype_option("Sample encoding (default: the input's when the format allows it).")
@no_dither_option
@name_option("{stem}.{ext}', segments '{stem}_{index:03d}.{ext}")
@output_policy_options(per_file=True, tables=True)
@click.option("--dry-run", is_flag=True, help="Report what would change; write no audio.")
@json_option
@csv_option
@click.option(
    "--report",
    metavar="FILE",
    help="Also write the report as a table: .parquet, .csv, .tsv or .jsonl.",
)
@click.option(
    "--measure-output",
    is_flag=True,
    help="Also measure each output's loudness (lufs_out; --normalize loudness always does).",
)
@click.option(
    "--streaming",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    show_default=True,
    help="Block-wise processing of long files.",
)
def preprocess_cmd(
    batch: BatchOptions, output: str | None, outputs: OutputOptions, **kw: Any
) -> None:
    """Prepare audio for features or training, writing new files (inputs are never touched).

    Each option enables one step; the report gives, per input, duration,
    sample rate, channels, peak (dBFS) and loudness (LUFS, ITU-R BS.1770)
    before and after, the gain applied and whether peaks were limited or the
    gain lowered to stay under the ceiling. It prints as a table on a
    terminal, JSON lines when piped (or --json), CSV with --csv.
    """

    plan = _plan(kw)
    if output is None and not kw["dry_run"]:
        raise UsageError("give -o OUT (a file for one input, a directory for several) or --dry-run")
    run = BatchRun(batch, desc="preprocess", output=output)
    inputs = run.inputs
    segmented = "segment" in plan.steps
    spec = OutputSpec(
        out=output,
        format=kw["fmt"],
        subtype=kw["subtype"],
        dither=not kw["no_dither"],
        dry_run=kw["dry_run"],
        protected=frozenset(os.path.realpath(i.path) for i in inputs),
    )
    files = None
    if output is not None and inputs:
        if output == "-" and segmented:
            raise UsageError("-o -: --segment makes several files; give a directory")
        files = plan_files(
            output,
            inputs,
            template=DEFAULT_SEGMENT_NAME if segmented else DEFAULT_NAME,
            suffixes=AUDIO_SUFFIXES,
            options=outputs,
            name=kw["name"],
            ext_for=lambda inp: planned_ext(spec, inp.path),
            scratch=stdout_scratch,
            needs=("index",) if segmented else (),
        )
        spec = replace(spec, single=files.mode == "file", plan=files)
    check_spec(spec)
    job = Job(
        plan=plan,
        spec=spec,
        streaming=kw["streaming"],
        start=kw["start"],
        duration=kw["duration"],
        measure_output=kw["measure_output"]
        or ("normalize" in plan.steps and plan.normalize == "loudness"),
        # One input and more than one job allowed: its worker may use a second thread.
        threads=2 if len(inputs) == 1 and (batch.jobs or default_jobs()) > 1 else 1,
    )
    job.check()
    _check_memory(job, inputs, batch)
    _render(run, job, kw, outputs, files)
    run.exit()


def _check_memory(job: Any, inputs: list[Input], batch: BatchOptions) -> None:
    """Refuse a run whose biggest input would not fit in a worker's memory budget."""

    if job.plan.blockable and job.streaming != "off" and job.plan.pad_to is None:
        return  # long inputs stream: memory is bounded whatever their length
    worst, name = 0.0, ""
    for inp in inputs:
        info = audio_io.probe_quiet(inp.path)
        if info is None:
            continue  # the task reports it
        need = estimate_memory(job, info)
        if need > worst:
            worst, name = need, inp.display
    jobs = max(1, min(batch.jobs or default_jobs(), len(inputs) or 1))
    limits.check_memory(worst, limits.budget(batch.max_memory, jobs), f"{name} in memory")


#: Extensions that make -o name one audio file.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")


def _plan(kw: dict[str, Any]) -> Plan:
    settings, flags = settings_from(kw)
    return build_plan(settings, flags, kw["chain"])  # no steps: a plain (re-)encode


def _render(
    run: BatchRun, job: Any, kw: dict[str, Any], outputs: OutputOptions, files: Any
) -> None:

    to_stdout = files is not None and files.mode == "stdout"
    if to_stdout and kw["report"] == "-":
        raise UsageError("-o - and --report -: standard output holds one of them")
    fmt = choose_format(kw["as_json"], kw["as_csv"])
    spec = TableSpec(tuple(ROW_TYPES), ROW_TYPES, key="input")
    report = (
        TableSink(
            kw["report"],
            spec,
            identity={
                "command": "preprocess",
                "steps": job.plan.describe(),
                "format": kw["fmt"],
                "subtype": kw["subtype"],
                "dither": not kw["no_dither"],
                "output": files.template if files is not None and not to_stdout else None,
                "dry_run": kw["dry_run"],
                "start": kw["start"],
                "duration": kw["duration"],
            },
            metadata={
                "audiokit.command": "preprocess",
                "audiokit.steps": ",".join(job.plan.describe()),
            },
            options=outputs,
        )
        if kw["report"] is not None
        else None
    )
    # Audio on standard output: the report goes only to --report.
    printer = None if to_stdout else TableSink(None, spec, print_format=fmt)
    segmented = "segment" in job.plan.steps

    def first_output(inp: Input) -> list[Path]:
        ext = planned_ext(job.spec, inp.path)
        return output_paths(inp, job.spec, ext, 1 if segmented else None)[:1]

    task = functools.partial(_task, job)
    with contextlib.ExitStack() as stack:
        todo = run.inputs
        if report is not None:
            stack.enter_context(report)
            todo_report = report.open(run.inputs)
        if printer is not None:
            stack.enter_context(printer)
            printer.open(run.inputs)
        if files is not None and not job.spec.dry_run:
            todo = stack.enter_context(file_outputs(run, [files], outputs, first_output))
            if report is not None and outputs.existing is Existing.UPDATE:
                # Up-to-date outputs without a row in the report are made again.
                again = {i.path for i in todo} | {i.path for i in todo_report}
                done = {i.path for i in run.inputs} - again
                todo = [i for i in run.inputs if i.path in again]
                run.skipped = len(done)
        for res in run.run(task, todo, warm_up=batch_warm_up(job.plan)):
            rep = res.value
            if to_stdout:
                rep.outputs = ["-"]  # not the scratch file it went through
            for w in rep.warnings:
                run.warn(f"audiokit: {rep.input}: warning: {w}")
            row = rep.row()
            if report is not None:
                report.add(res.input, [row])
            if printer is not None:
                printer.add(res.input, [_table_row(row) if fmt == "table" else row])
    if printer is not None and printer.rows:
        title = "dry run: nothing written" if job.spec.dry_run else None
        print_table(printer.rows, COLUMNS, title=title)
