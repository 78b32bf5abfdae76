"""``audiokit transcribe``: speech to text with Whisper (faster-whisper), offline."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

import click

from audiokit import audio_io
from audiokit import batch as engine
from audiokit.cli.common import BatchRun, file_outputs, print_table, stdout_is_tty
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    json_option,
    name_option,
    output_option,
    output_policy_options,
    span_options,
)
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.output.naming import output_mode, plan_files
from audiokit.output.policy import OutputOptions
from audiokit.output.tables import TableSink, TableSpec
from audiokit.transcribe.assembly import cache_dir
from audiokit.transcribe.engine import (
    TranscribeOptions,
    Transcript,
    resolve_compute_type,
    resolve_device,
)
from audiokit.transcribe.files import transcribe_file
from audiokit.transcribe.formats import (
    EXTENSIONS,
    FILE_TYPES,
    FORMATS,
    SEGMENT_TYPES,
    TABLE_FORMATS,
    file_row,
    format_from_path,
    render,
    segment_rows,
    summary_path,
    to_json,
)
from audiokit.transcribe.models import DEFAULT_MODEL, list_models, resolve_model
from audiokit.writers import atomic_open, json_line, write_table


def _task(
    inp: Input, opts: TranscribeOptions, start: float = 0.0, duration: float | None = None
) -> Transcript:
    return transcribe_file(inp.path, opts, display=inp.display, start=start, duration=duration)


def _show_models(as_json: bool) -> None:
    entries = list_models()
    if as_json or not stdout_is_tty():
        for e in entries:
            click.echo(json_line(e.as_dict()))
        return
    rows = [e.as_dict() for e in entries]
    for r in rows:
        r["size"] = "-" if r["size_bytes"] is None else f"{r['size_bytes'] / 2**20:.0f} MiB"
        r["languages"] = "many" if r["multilingual"] else "en"
        r["where"] = r["path"] if r["status"] == "ready" else (r["hint"] or "-")
    cols = [
        (k, k, lambda v: "-" if v is None else str(v))
        for k in ("name", "source", "status", "languages", "size", "where")
    ]
    print_table(rows, cols, title=f"Whisper models (cache: {cache_dir()})")


@click.command(
    "transcribe",
    epilog="""\b
Examples:
  audiokit transcribe interview.flac
  audiokit transcribe talk.wav --format srt -o talk.srt
  audiokit transcribe podcasts/ -o subtitles/ --format vtt -j 2
  audiokit transcribe calls/ --format parquet -o calls.parquet   # + calls.files.parquet
  audiokit transcribe calls/ -o calls.parquet --update   # only new and changed recordings
  audiokit transcribe interview.mp3 --model base --format json | jq -r .language
  audiokit transcribe entrevista.ogg --model base --task translate
  sox in.wav -t wav - | audiokit transcribe - --word-timestamps --format json
  audiokit transcribe --list-models
""",
)
@batch_options
@click.option(
    "-m",
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    metavar="NAME|DIR",
    help="tiny.en (bundled, English), base (multilingual, assembled into the cache on first "
    "use), a CTranslate2 Whisper directory, or a faster-whisper name already in the "
    "Hugging Face cache. Never downloads.",
)
@click.option("--list-models", is_flag=True, help="Show the models available here and exit.")
@click.option(
    "-f",
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format (default: from the -o extension, else txt). jsonl/parquet: one row "
    "per segment, plus a per-file summary table <out>.files.<ext>.",
)
@output_option(
    "A file for one input (or a .jsonl/.parquet table for many); a directory for many "
    "inputs (one output per input, mirroring the tree). Default, or '-': standard output."
)
@name_option("{stem}.{ext}")
@output_policy_options(per_file=True, tables=True)
@click.option(
    "-l",
    "--language",
    metavar="CODE",
    help="Spoken language (en, fr, ...). Default: detected (multilingual models).",
)
@click.option(
    "--task",
    type=click.Choice(["transcribe", "translate"]),
    default="transcribe",
    show_default=True,
    help="translate: English text from any language (base).",
)
@click.option(
    "--beam-size",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Beam search width (1: greedy, faster).",
)
@click.option(
    "--vad/--no-vad",
    default=True,
    show_default=True,
    help="Skip non-speech with Silero VAD (also avoids text invented on silence).",
)
@click.option("--word-timestamps", is_flag=True, help="Time every word (in json output).")
@click.option(
    "--initial-prompt",
    metavar="TEXT",
    help="Text to prime the model with (names, spelling, style).",
)
@click.option(
    "--threads",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="CPU threads per model (default: cores divided by --jobs).",
)
@click.option(
    "--compute-type",
    default="default",
    show_default=True,
    metavar="TYPE",
    help="CTranslate2 compute type: int8 (CPU default), float16 (CUDA default), "
    "int8_float32, float32...",
)
@click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "auto"]),
    default="cpu",
    show_default=True,
    help="cuda uses the GPU when CTranslate2 sees one.",
)
@span_options
@json_option
def transcribe_cmd(
    batch: BatchOptions,
    model: str,
    list_models: bool,
    fmt: str | None,
    output: str | None,
    name: str | None,
    outputs: OutputOptions,
    language: str | None,
    task: str,
    beam_size: int,
    vad: bool,
    word_timestamps: bool,
    initial_prompt: str | None,
    threads: int,
    compute_type: str,
    device: str,
    start: float,
    duration: float | None,
    as_json: bool,
) -> None:
    """Transcribe speech to text, offline, on the CPU (or a GPU).

    Uses Whisper through faster-whisper (CTranslate2, int8 on the CPU). The
    default model, tiny.en, is bundled; --model base adds language detection
    and translation. Any format audiokit reads works; the model is loaded once
    per worker. Silence gives an empty transcript.

    Formats: txt, json (language, segments, words), srt, vtt, tsv (start/end
    in ms), jsonl and parquet (one row per segment: path, segment, start, end,
    text, avg_logprob, no_speech_prob, language; with -o FILE also a per-file
    summary FILE-stem.files.ext: path, language, language_probability, text,
    segments, duration, model, task).
    """
    if list_models:
        _show_models(as_json)
        return
    if not batch.paths and batch.files_from is None:
        raise click.UsageError("no inputs: give files, directories, '-' or --list-models")

    if as_json:  # one JSON object per line, as --json means in every command
        if fmt not in (None, "json"):
            raise UsageError(f"--json and --format {fmt} name different formats")
        fmt = "json"
    if output == "-":
        output = None  # standard output, as without -o
    fmt = fmt or (format_from_path(output) if output else None) or "txt"
    run = BatchRun(batch, desc="transcribe", output=output)
    inputs = run.inputs
    if not inputs:
        run.exit()
    if output is None:
        if fmt == "parquet":
            raise UsageError("--format parquet needs -o FILE.parquet")
        if len(inputs) > 1 and fmt in ("srt", "vtt", "tsv"):
            raise UsageError(f"{len(inputs)} inputs in --format {fmt}: give -o DIR")
    one_table = (
        output is not None
        and fmt in TABLE_FORMATS
        and output_mode(output, [EXTENSIONS[fmt], *TABLE_ALIASES[fmt]]) == "file"
    )
    plan = None
    if output is not None and not one_table:
        plan = plan_files(
            output,
            inputs,
            template="{stem}.{ext}",
            suffixes=(EXTENSIONS[fmt],),
            options=outputs,
            fields={"ext": fmt},
            name=name,
        )

    resolved = resolve_model(model)  # assembles 'base' here, once, before any worker starts
    dev, note = resolve_device(device)
    if note:
        click.echo(f"audiokit: {note}", err=True)
    resolve_compute_type(dev, compute_type)
    jobs = max(1, min(batch.jobs or engine.default_jobs(), len(inputs)))
    opts = TranscribeOptions.for_model(
        resolved,
        device=dev,
        compute_type=compute_type,
        threads=threads or max(1, engine.default_jobs() // jobs),
        language=language.lower() if language else None,
        task=task,
        beam_size=beam_size,
        vad=vad,
        word_timestamps=word_timestamps,
        initial_prompt=initial_prompt,
    )
    task_fn = functools.partial(_task, opts=opts, start=start, duration=duration)
    with contextlib.ExitStack() as stack:
        sink = None
        todo = inputs
        if one_table:
            assert output is not None
            meta = {"audiokit.command": "transcribe", "audiokit.model": resolved.name}
            identity = {
                "command": "transcribe",
                "model": resolved.name,
                "language": opts.language,
                "task": task,
                "beam_size": beam_size,
                "vad": vad,
                "initial_prompt": initial_prompt,
                "start": start,
                "duration": duration,
            }
            sink = stack.enter_context(
                TableSink(
                    output,
                    TableSpec(tuple(SEGMENT_TYPES), SEGMENT_TYPES),
                    identity=identity,
                    metadata=meta,
                    options=outputs,
                    companions=[
                        (str(summary_path(output)), TableSpec(tuple(FILE_TYPES), FILE_TYPES))
                    ],
                )
            )
            todo = sink.open(inputs)
            run.skip(sink.kept_inputs)
        elif plan is not None:
            todo = stack.enter_context(
                file_outputs(run, [plan], outputs, lambda inp: [plan.path_for(inp)])
            )
        weights = []
        for inp in todo:
            info = audio_io.probe_quiet(inp.path)  # the task reports a problem
            weights.append(info.duration if info is not None else 0.0)
        for res in run.run(task_fn, todo, weights=weights, unit="s"):
            t = res.value
            if t.language_detected:
                run.say(
                    f"{res.input.display}: language {t.language} "
                    f"(probability {t.language_probability:.2f})"
                )
            try:
                _emit(t, res.input, fmt, plan, sink, word_timestamps, len(inputs), as_json)
            except BrokenPipeError:
                raise
            except Exception as exc:
                run.fail(res.input, exc)
    run.exit()


#: Other extensions of the table formats.
TABLE_ALIASES = {"jsonl": [".ndjson"], "parquet": [".pq"]}


def _emit(
    t: Transcript,
    inp: Input,
    fmt: str,
    plan: Any,
    sink: Any,
    words: bool,
    n_inputs: int,
    one_line: bool = False,
) -> None:
    """Write or print one transcript (``one_line``: JSON on one line, as --json prints)."""

    if sink is not None:
        sink.add(inp, segment_rows(t))
        sink.add(inp, [file_row(t)], table=1)
        return
    if plan is None:
        if fmt == "json" and (n_inputs > 1 or one_line):
            click.echo(to_json(t, words, indent=None), nl=False)
        elif fmt == "txt" and n_inputs > 1:
            click.echo(f"==> {t.path} <==\n{render(t, 'txt')}")
        else:
            click.echo(render(t, fmt, words), nl=False)
        return
    target = plan.path_for(inp)
    if fmt == "parquet":
        write_table(
            target,
            segment_rows(t),
            metadata={"audiokit.command": "transcribe"},
            types=SEGMENT_TYPES,
            columns=tuple(SEGMENT_TYPES),
            overwrite=plan.replace,
        )
        return
    with atomic_open(target, "w", overwrite=plan.replace, encoding="utf-8", newline="") as fh:
        fh.write(render(t, fmt, words))
