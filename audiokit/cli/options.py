"""Options shared by the subcommands, defined once.

``@batch_options`` adds the input and batch options every subcommand has and
hands the command one :class:`BatchOptions` (argument ``batch``) instead of
nine separate arguments. The single-option decorators below (``sr_option``,
``n_fft_option``, ...) keep names, defaults and help identical across commands.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from audiokit import limits
from audiokit.inspection import DEFAULT_SILENCE_DB
from audiokit.output.policy import Existing, OutputOptions

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class BatchOptions:
    """Inputs and batch behaviour, as given on the command line."""

    paths: tuple[str, ...]
    files_from: str | None
    ext: str | None
    jobs: int | None
    quiet: bool
    fail_fast: bool
    traceback: bool
    max_memory: int | None = None
    strict: bool = False
    scheduler: str | None = None
    """A Dask scheduler's address or ``local:N`` (``--scheduler``); None: the local pool."""


def batch_options(func: F) -> F:
    """Add ``PATHS...``, ``--files-from``, ``--ext``, ``-j``, ``-q``, ``--fail-fast``, ``-v``,
    ``--scheduler``."""

    @click.argument("paths", nargs=-1, metavar="PATHS...")
    @click.option(
        "--files-from",
        metavar="FILE",
        help="Read more input paths from FILE, one per line ('-' for standard input).",
    )
    @click.option(
        "--ext",
        metavar="EXTS",
        help="Extensions to pick up in directories and globs, e.g. 'wav,flac' "
        "(default: common audio formats).",
    )
    @click.option(
        "-j",
        "--jobs",
        type=click.IntRange(min=1),
        metavar="N",
        help="Worker processes (default: all cores).",
    )
    @click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="No progress bar, no per-file lines, no summary (errors are still shown).",
    )
    @click.option("--fail-fast", is_flag=True, help="Stop at the first input that fails.")
    @click.option(
        "--scheduler",
        metavar="ADDRESS",
        envvar="AUDIOKIT_SCHEDULER",
        callback=lambda ctx, param, v: _scheduler(v),
        help="Run the batch on a Dask cluster: its scheduler's tcp://HOST:PORT (or tls://, "
        "or HOST:PORT), or local:N for N local worker processes (needs audiokit[dask]; "
        "$AUDIOKIT_SCHEDULER). Inputs and outputs must be on storage the workers share.",
    )
    @click.option(
        "--strict",
        is_flag=True,
        help="Count an input with a warning (a damaged file read as far as it goes, "
        "decoder messages) as failed.",
    )
    @click.option(
        "--max-memory",
        metavar="SIZE",
        help="Memory one worker may plan to use, e.g. 2G or 512M (default: half of this "
        "machine's memory divided by the workers); runs estimated above it are refused.",
    )
    @click.option(
        "-v",
        "--traceback",
        "--verbose",
        "traceback",
        is_flag=True,
        help="Show the full traceback of failures.",
    )
    @functools.wraps(func)
    def wrapper(**kw: Any) -> Any:
        batch = BatchOptions(
            paths=kw.pop("paths"),
            files_from=kw.pop("files_from"),
            ext=kw.pop("ext"),
            jobs=kw.pop("jobs"),
            quiet=kw.pop("quiet"),
            fail_fast=kw.pop("fail_fast"),
            traceback=kw.pop("traceback"),
            max_memory=_size(kw.pop("max_memory")),
            strict=kw.pop("strict"),
            scheduler=kw.pop("scheduler"),
        )
        return func(batch=batch, **kw)

    return wrapper  # type: ignore[return-value]


def _scheduler(text: str | None) -> str | None:
    """The address of ``--scheduler``, normalised (``host:port`` -> ``tcp://host:port``)."""
    if text is None or not text.strip():
        return None
    from audiokit.dask_engine import parse_address  # only --scheduler needs it

    try:
        return str(parse_address(text))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scheduler") from None


def _size(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return limits.parse_size(text)
    except Exception as exc:
        raise click.BadParameter(str(exc), param_hint="--max-memory") from None


def output_option(help: str, required: bool = False) -> Callable[[F], F]:
    """``-o/--output PATH``."""
    return click.option("-o", "--output", metavar="PATH", required=required, help=help)


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON object per line (for jq)."
)
csv_option = click.option("--csv", "as_csv", is_flag=True, help="Print CSV with a header line.")


def output_policy_options(
    per_file: bool = True, tables: bool = True, update: bool = True
) -> Callable[[F], F]:
    """``--overwrite``, ``--skip-existing``, ``--update``, ``--prune``, ``--wait``.

    The command receives one :class:`~audiokit.output.policy.OutputOptions`
    (argument ``outputs``). ``per_file``: the command writes files per input
    (``--skip-existing`` applies); ``tables``: it writes tables (``--prune`` applies);
    ``update``: re-runs can do only the new work (not for a model file).
    """
    update_help = (
        "Do only the new work: keep the table rows of unchanged inputs (same path, size, "
        "modification time and options) and re-make per-file outputs older than their input."
        if per_file and tables
        else "Do only the new work: keep the rows of inputs unchanged since the table was "
        "written (same path, size, modification time and options), compute the others."
        if tables
        else "Do only the new work: re-make only outputs older than their input (make's rule)."
    )

    def decorate(func: F) -> F:
        opts = [
            click.option(
                "--overwrite",
                is_flag=True,
                help="Replace existing outputs (atomically, once the new output is complete).",
            ),
        ]
        if per_file:
            opts.append(
                click.option(
                    "--skip-existing",
                    is_flag=True,
                    help="Skip inputs whose outputs already exist (counted as skipped).",
                )
            )
        if update:
            opts.append(click.option("--update", is_flag=True, help=update_help))
        if tables:
            opts.append(
                click.option(
                    "--prune",
                    is_flag=True,
                    help="With --update: drop the rows of inputs that no longer exist.",
                )
            )
        opts.append(
            click.option(
                "--wait",
                type=click.FloatRange(min=0),
                default=0.0,
                metavar="SECONDS",
                help="Wait this long for another audiokit run that holds an output "
                "(default: fail at once, exit 75).",
            )
        )

        @functools.wraps(func)
        def wrapper(**kw: Any) -> Any:
            chosen = [
                name
                for name, flag in (
                    ("--overwrite", kw.pop("overwrite")),
                    ("--skip-existing", kw.pop("skip_existing", False)),
                    ("--update", kw.pop("update", False)),
                )
                if flag
            ]
            if len(chosen) > 1:
                raise click.UsageError(f"{' and '.join(chosen)} exclude each other")
            prune = kw.pop("prune", False)
            if prune and chosen != ["--update"]:
                raise click.UsageError("--prune needs --update")
            existing = {
                "--overwrite": Existing.OVERWRITE,
                "--skip-existing": Existing.SKIP,
                "--update": Existing.UPDATE,
            }.get(chosen[0] if chosen else "", Existing.REFUSE)
            kw["outputs"] = OutputOptions(existing=existing, prune=prune, wait=kw.pop("wait"))
            return func(**kw)

        for opt in reversed(opts):
            wrapper = opt(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def span_options(func: F) -> F:
    """``--start SECONDS`` and ``--duration SECONDS``: the span of each file to read."""
    func = click.option(
        "--duration",
        type=click.FloatRange(min=0, min_open=True),
        metavar="SECONDS",
        help="Read this many seconds (default: to the end), as librosa.load's duration.",
    )(func)
    return click.option(
        "--start",
        type=click.FloatRange(min=0),
        default=0.0,
        metavar="SECONDS",
        help="Read from this time (default: the beginning), as librosa.load's offset.",
    )(func)


label_from_parent_option = click.option(
    "--label-from-parent",
    is_flag=True,
    help="Add a 'label' column: the name of each file's folder (data/<label>/x.wav).",
)

silence_threshold_option = click.option(
    "--silence-threshold",
    type=float,
    default=DEFAULT_SILENCE_DB,
    show_default=True,
    metavar="DBFS",
    help="20 ms frames quieter than this count as silent.",
)

seed_option = click.option(
    "--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same model)."
)


def name_option(default: str) -> Callable[[F], F]:
    """``--name TEMPLATE``: output file names under ``-o DIR``."""
    return click.option(
        "--name",
        metavar="TEMPLATE",
        help="Output names under -o DIR, with {stem}, {name} (stem and extension), "
        "{input_ext}, {ext} (the output's), {kind}, {index} (segments); default "
        f"'{default}'. Inputs that would share a name keep their extension ({{stem}} "
        "becomes {name}).",
    )


#: Formats of --format for commands that write tables.
TABLE_FORMATS = ("csv", "tsv", "jsonl", "parquet")

table_format_option = click.option(
    "--format",
    "table_format",
    type=click.Choice(TABLE_FORMATS),
    help="Table format: of -o - (default csv), of standard output, or checked against "
    "-o FILE's extension.",
)


class SampleRate(click.ParamType):
    """A sample rate in Hz, or ``native`` (None: keep each file's own rate)."""

    name = "rate"

    def convert(self, value: Any, param: Any, ctx: Any) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("native", "none", "0"):
            return None
        try:
            rate = int(float(text[:-1]) * 1000) if text.endswith("k") else int(text)
        except ValueError:
            self.fail(f"{value!r} is not a sample rate (Hz, e.g. 16000 or 22.05k, or 'native')")
        if not limits.SR_MIN <= rate <= limits.SR_MAX:
            self.fail(f"{rate} Hz is out of range: use {limits.SR_MIN} to {limits.SR_MAX} Hz")
        return rate


def per_channel_option(help: str) -> Callable[[F], F]:
    """``--per-channel``: one row per channel (column ``channel``) instead of one per file."""
    return click.option("--per-channel", is_flag=True, help=help)


def sr_option(default: int | None = 22050, help: str | None = None) -> Callable[[F], F]:
    """``--sr RATE``: resample to RATE Hz (``native`` keeps each file's rate)."""
    shown = "native" if default is None else str(default)
    return click.option(
        "--sr",
        type=SampleRate(),
        default=default,
        show_default=shown,
        help=help or "Resample to this rate in Hz ('native' keeps each file's own rate).",
    )


def n_fft_option(default: int = 2048) -> Callable[[F], F]:
    return click.option(
        "--n-fft",
        type=click.IntRange(limits.N_FFT_MIN, limits.N_FFT_MAX),
        default=default,
        show_default=True,
        help="FFT window length in samples.",
    )


def hop_length_option(default: int = 512) -> Callable[[F], F]:
    return click.option(
        "--hop-length",
        type=click.IntRange(1, limits.HOP_MAX),
        default=default,
        show_default=True,
        help="Samples between successive frames.",
    )


def n_mels_option(default: int = 128) -> Callable[[F], F]:
    return click.option(
        "--n-mels",
        type=click.IntRange(1, limits.N_MELS_MAX),
        default=default,
        show_default=True,
        help="Number of mel bands.",
    )


def n_mfcc_option(
    default: int = 13, help: str = "Number of MFCC coefficients."
) -> Callable[[F], F]:
    return click.option(
        "--n-mfcc",
        type=click.IntRange(1, limits.N_MFCC_MAX),
        default=default,
        show_default=True,
        help=help,
    )


def fmin_option(default: float = 0.0) -> Callable[[F], F]:
    return click.option(
        "--fmin",
        type=click.FloatRange(0, limits.FREQ_MAX),
        default=default,
        show_default=True,
        help="Lowest frequency in Hz.",
    )


def fmax_option() -> Callable[[F], F]:
    return click.option(
        "--fmax",
        type=click.FloatRange(0, limits.FREQ_MAX, min_open=True),
        default=None,
        help="Highest frequency in Hz (default: half the sample rate).",
    )


#: Audio formats commands write (``--format`` of audio outputs).
AUDIO_FORMATS = ("wav", "flac", "ogg")


def _subtype(value: str | None) -> str | None:
    if value is None:
        return None
    if value.upper() not in ("PCM_16", "PCM_24", "FLOAT"):
        raise click.BadParameter(f"{value!r} is not one of PCM_16, PCM_24, FLOAT")
    return value.upper()


def subtype_option(help: str) -> Callable[[F], F]:
    """``--subtype PCM_16|PCM_24|FLOAT`` (any case) of audio outputs."""
    return click.option(
        "--subtype",
        metavar="[PCM_16|PCM_24|FLOAT]",
        callback=lambda ctx, param, v: _subtype(v),
        help=help,
    )


no_dither_option = click.option(
    "--no-dither", is_flag=True, help="No TPDF dither when reducing resolution to PCM_16/PCM_24."
)
