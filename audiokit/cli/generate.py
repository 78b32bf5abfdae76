"""``audiokit generate``: test signals written through the audio output layer."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from audiokit import generate
from audiokit.cli.common import copy_to_stdout, stdout_scratch
from audiokit.cli.options import (
    AUDIO_FORMATS,
    no_dither_option,
    output_option,
    output_policy_options,
    seed_option,
    sr_option,
    subtype_option,
)
from audiokit.errors import OutputError, UsageError, safe_text
from audiokit.output import files
from audiokit.output.lock import OutputLock
from audiokit.output.naming import output_mode
from audiokit.output.policy import Existing, OutputOptions
from audiokit.preprocess.output import (
    FORMATS,
    Encoding,
    OutputSet,
    OutputSpec,
    check_spec,
)

#: Extensions that make -o name one audio file.
AUDIO_SUFFIXES = tuple(f".{f}" for f in AUDIO_FORMATS)
#: libsndfile's RIFF sizes are 32-bit: a WAV holds at most this many bytes of samples.
WAV_MAX_BYTES = (1 << 32) - 1024
_SAMPLE_BYTES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}


def parse_freqs(values: Sequence[str], kind: str) -> list[float]:
    """``--freq`` values: ``440``, ``440,880`` (repeatable), or ``START:END`` for a chirp.

    Raises
    ------
    UsageError
        Not numbers, or ``START:END`` for anything but a chirp.
    """
    out: list[float] = []
    for value in values:
        sep = ":" if ":" in value else ","
        if sep == ":" and kind != "chirp":
            raise UsageError(f"--freq {value}: START:END is for chirp only")
        for part in value.split(sep):
            try:
                out.append(float(part))
            except ValueError:
                raise UsageError(f"--freq {value!r}: not a frequency in Hz") from None
    return out


def encoding(ext: str, subtype: str | None, dither: bool) -> Encoding:
    """The encoding of a generated file: ``--subtype``, else PCM_16 (Vorbis for ogg)."""
    fmt, allowed = FORMATS[ext]
    chosen = subtype or ("PCM_16" if "PCM_16" in allowed else allowed[0])
    plain = Encoding(ext, fmt, chosen, False)
    return Encoding(ext, fmt, chosen, dither and plain.bits is not None)


def check_size(sig: generate.Signal, enc: Encoding) -> None:
    """Refuse a WAV larger than its 32-bit header can describe (UsageError)."""
    size = sig.frames * sig.channels * _SAMPLE_BYTES.get(enc.subtype, 4)
    if enc.ext == "wav" and size > WAV_MAX_BYTES:
        raise UsageError(
            f"{size / 2**30:.1f} GiB of samples do not fit in a WAV file (4 GiB): "
            "use .flac, a shorter --duration or fewer --channels"
        )


def write(sig: generate.Signal, target: Path, enc: Encoding, replace: bool) -> int:
    """Write the signal to ``target`` atomically, block by block; returns the clipped count."""
    spec = OutputSpec(out=str(target), single=True, format=enc.ext, overwrite=replace)
    with OutputSet(spec, enc, sig.sr, sig.channels) as out:
        handle = out.open(target)
        for block in generate.blocks(sig):
            out.write(handle, block)
    return out.clipped


@click.command(
    "generate",
    epilog="""\b
Signals:
  sine      one tone: --freq HZ
  tones     a sum of tones: --freq 440,880 (or --freq 440 --freq 880)
  chirp     a sine sweep: --freq START:END, --sweep linear|log
  white, pink, brown   Gaussian noise, power flat, 1/f, 1/f^2 (--seed)
  silence   digital zeros
\b
Examples:
  audiokit generate sine --freq 220 -o a.wav
  audiokit generate tones --freq 440,880 -o chord.flac --amplitude 0.8
  audiokit generate chirp --freq 100:8000 --sweep log --duration 3 -o sweep.wav
  audiokit generate pink --duration 10 --channels 2 --seed 7 -o pink.flac --subtype PCM_24
  audiokit generate silence --duration 0.5 --sr 16000 -o gap.wav
  audiokit generate sine --freq 1000 -o - | audiokit inspect -
\b
--amplitude is the sample peak of the signal: a sum of tones, a chirp or
noise is scaled so that its largest sample is exactly A (peak_dbfs =
20 log10 A), before any fade. Tones and chirps are the same on every
channel; noise is independent per channel. The file has round(sr *
duration) samples, PCM_16 unless --subtype (TPDF dither, as preprocess:
--no-dither). Existing outputs are refused unless --overwrite;
--skip-existing leaves them alone (a generated file has no input to be
older than). Long signals are written block by block in bounded memory.
""",
)
@click.argument("signal", type=click.Choice(generate.SIGNALS), metavar="SIGNAL")
@output_option(
    "Output file (.wav, .flac or .ogg), or '-' for standard output (--format picks the "
    "format, default wav).",
    required=True,
)
@click.option(
    "--freq",
    "freqs",
    multiple=True,
    metavar="HZ[,HZ...]|START:END",
    help="Frequencies in Hz: one for sine, a comma list (or the option repeated) for "
    "tones, START:END for chirp.",
)
@click.option(
    "--sweep",
    type=click.Choice(generate.SWEEPS),
    default="linear",
    show_default=True,
    help="Chirp sweep: linear, or log (exponential, as librosa.chirp's default).",
)
@sr_option(default=22050, help="Sample rate in Hz.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Length in seconds (round(sr * duration) samples; at most 24 h).",
)
@click.option(
    "--amplitude",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.5,
    show_default=True,
    metavar="A",
    help="Sample peak, 0 < A <= 1 (0.5 is -6.02 dBFS); sums of tones and noise are "
    "scaled to it too.",
)
@click.option(
    "--channels",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    metavar="N",
    help="Channels: the same tone on each, independent noise on each.",
)
@click.option(
    "--fade-ms",
    type=float,
    metavar="MS",
    help="Raised-cosine fade in and out (as preprocess --fade-ms).",
)
@seed_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(AUDIO_FORMATS),
    help="Output format (default: -o FILE's extension; wav for -o -).",
)
@subtype_option("Sample encoding (default PCM_16; ogg is Vorbis).")
@no_dither_option
@output_policy_options(per_file=True, tables=False, update=False)
def generate_cmd(
    signal: str,
    output: str,
    outputs: OutputOptions,
    freqs: tuple[str, ...],
    sr: int | None,
    **kw: Any,
) -> None:
    """Write a test signal: a sine, a sum of tones, a chirp, white/pink/brown noise, silence.

    Useful for checking a pipeline end to end: every parameter is measurable in
    the output (frequency, peak level, duration in samples, channels).
    """
    if sr is None:
        raise UsageError("--sr native: a generated signal needs a sample rate in Hz")
    sig = generate.make(
        signal,
        sr=sr,
        duration=kw["duration"],
        freqs=parse_freqs(freqs, signal),
        amplitude=kw["amplitude"],
        sweep=kw["sweep"],
        channels=kw["channels"],
        seed=kw["seed"],
        fade_ms=kw["fade_ms"] or 0.0,
    )
    mode = output_mode(output, AUDIO_SUFFIXES)
    if mode not in ("file", "stdout"):
        raise UsageError(f"-o {output}: name a .wav, .flac or .ogg file, or '-'")
    check_spec(
        OutputSpec(out=output, single=mode == "file", format=kw["fmt"], subtype=kw["subtype"])
    )
    ext = kw["fmt"] or (Path(output).suffix.lower().lstrip(".") if mode == "file" else "wav")
    if kw["subtype"] == "FLOAT" and ext == "flac":  # check_spec sees only --format/-o
        raise UsageError("FLAC holds integer PCM only: use --subtype PCM_16 or PCM_24")
    enc = encoding(ext, kw["subtype"], not kw["no_dither"])
    check_size(sig, enc)
    if mode == "stdout":
        _to_stdout(sig, enc)
        return
    target = Path(output)
    with OutputLock(target, wait=outputs.wait):
        if target.parent.is_dir():
            files.sweep(target.parent)
        if os.path.lexists(target):
            if outputs.existing is Existing.SKIP:
                return  # counted as done: the output exists
            if outputs.existing is Existing.REFUSE:
                raise OutputError(
                    "exists (use --overwrite to replace it, or --skip-existing)", str(target)
                )
        clipped = write(sig, target, enc, outputs.replace)
    _warn_clipped(output, clipped)


def _to_stdout(sig: generate.Signal, enc: Encoding) -> None:
    scratch = stdout_scratch()
    try:
        target = Path(scratch, f"{sig.kind}.{enc.ext}")
        clipped = write(sig, target, enc, replace=True)
        copy_to_stdout([target])
    finally:
        shutil.rmtree(scratch, True)
    _warn_clipped("-", clipped)


def _warn_clipped(where: str, clipped: int) -> None:
    if clipped:
        click.echo(
            f"audiokit: {safe_text(where)}: warning: {clipped} samples clipped at full scale "
            "(dither at --amplitude 1; use --no-dither or a lower --amplitude)",
            err=True,
        )
