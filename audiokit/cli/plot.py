"""``audiokit plot``: waveform, spectrum, PSD, features, zero crossings, MFCC, chroma, onsets."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from audiokit.cli.common import BatchRun, file_outputs, stdout_scratch
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    fmax_option,
    fmin_option,
    hop_length_option,
    json_option,
    n_fft_option,
    n_mels_option,
    n_mfcc_option,
    name_option,
    output_option,
    output_policy_options,
)
from audiokit.output.naming import plan_files
from audiokit.output.policy import OutputOptions
from audiokit.plots import KINDS, tasks
from audiokit.plots.sources import parse_channel
from audiokit.plots.spectra import StftParams
from audiokit.plots.tasks import FigureOptions, SpectralOptions
from audiokit.writers import json_line

F = TypeVar("F", bound=Callable[..., Any])


def figure_options(func: F) -> F:
    """``--start --duration --channel --title --width --height --dpi --style``."""
    opts = [
        click.option(
            "--start",
            type=click.FloatRange(min=0),
            metavar="SECONDS",
            help="Draw from this time (default: the beginning).",
        ),
        click.option(
            "--duration",
            type=click.FloatRange(min=0, min_open=True),
            metavar="SECONDS",
            help="Draw this many seconds (default: to the end).",
        ),
        click.option(
            "--channel",
            metavar="N|L|R|mix",
            help="Draw one channel (0-based, L, R) or the mix of all; "
            "default: one lane per channel.",
        ),
        click.option("--title", help="Figure title (default: the file name; '' for none)."),
        click.option(
            "--width",
            type=click.FloatRange(min=0, min_open=True),
            metavar="INCHES",
            help="Image width in inches (default 10).",
        ),
        click.option(
            "--height",
            type=click.FloatRange(min=0, min_open=True),
            metavar="INCHES",
            help="Image height in inches (default: by kind, taller for more lanes).",
        ),
        click.option(
            "--dpi",
            type=click.FloatRange(min=0, min_open=True),
            default=100.0,
            show_default=True,
            help="Pixels per inch (written in the PNG).",
        ),
        click.option(
            "--style",
            type=click.Choice(["light", "dark"]),
            default="light",
            show_default=True,
            help="Colour scheme.",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def spectral_options(func: F) -> F:
    """``--n-fft --hop-length --window --fmin --fmax --top-db --cmap``."""
    opts = [
        n_fft_option(),
        hop_length_option(),
        click.option(
            "--window",
            default="hann",
            show_default=True,
            help="STFT window (any scipy.signal.get_window name).",
        ),
        fmin_option(),
        fmax_option(),
        click.option(
            "--top-db",
            type=click.FloatRange(min=0, min_open=True),
            default=80.0,
            show_default=True,
            help="Dynamic range in dB below the maximum.",
        ),
        click.option(
            "--max-columns",
            type=click.IntRange(min=0),
            metavar="N",
            help="Most time columns of a spectrogram: consecutive STFT frames are "
            "averaged (mean power) to fit (default: the image width in pixels; "
            "0: every frame).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def build_figure(kw: dict[str, Any]) -> Any:
    """Pop the figure options out of ``kw`` into a FigureOptions."""

    return FigureOptions(
        width=kw.pop("width"),
        height=kw.pop("height"),
        dpi=kw.pop("dpi"),
        style=kw.pop("style"),
        title=kw.pop("title"),
        start=kw.pop("start"),
        duration=kw.pop("duration"),
        channel=parse_channel(kw.pop("channel")),
    )


def build_spectral(kw: dict[str, Any], **extra: Any) -> Any:
    """Pop the spectral options out of ``kw`` into a SpectralOptions."""

    return SpectralOptions(
        stft=StftParams(kw.pop("n_fft"), kw.pop("hop_length"), kw.pop("window")),
        fmin=kw.pop("fmin"),
        fmax=kw.pop("fmax"),
        top_db=kw.pop("top_db"),
        max_columns=kw.pop("max_columns"),
        **extra,
    )


def report(run: BatchRun, results: Iterable[Any], as_json: bool, to_stdout: bool) -> None:
    """One line per picture written: JSON lines on stdout with --json, else on stderr."""

    for res in results:
        r = res.value
        if as_json and not to_stdout:
            run.say(json_line(r.row()), stdout=True)
        else:
            extra = f", data {r.data}" if r.data else ""
            output = "standard output" if to_stdout else r.output
            run.say(
                f"{r.path} -> {output} ({r.width}x{r.height} px, {r.seconds:.2f} s of audio{extra})"
            )


@click.command(
    "plot",
    epilog="""\b
Examples:
  audiokit plot song.flac                          # song.waveform.png here
  audiokit plot talk.wav --kind overview -o talk.png
  audiokit plot take.wav --kind zcr --start 1.2 --duration 0.005
  audiokit plot music/ --kind onsets -o pics/ -j 2 # pics/<tree>/{stem}.onsets.png
  audiokit plot stereo.wav --kind psd --channel L --style dark -o psd.png
  audiokit plot 3h_podcast.flac --width 20 --dpi 80 -o podcast.png
  audiokit plot clips/ --kind mfcc -o pics/ --json | jq -r .output
  audiokit plot clips/ -o pics/ --update          # only clips newer than their picture
  audiokit plot talk.wav -o - | display           # the PNG on standard output
""",
)
@batch_options
@click.option(
    "-k",
    "--kind",
    type=click.Choice(KINDS),
    default="waveform",
    show_default=True,
    help="What to draw (see above).",
)
@output_option(
    "A .png for one input, '-' for standard output, or a directory for many (mirrors "
    "the input tree, names {stem}.{kind}.png). Default for one input: {stem}.{kind}.png here."
)
@name_option("{stem}.{kind}.png")
@figure_options
@spectral_options
@n_mels_option()
@n_mfcc_option(20, help="MFCC coefficients (--kind mfcc; librosa's default 20).")
@click.option(
    "--cmap",
    default=None,
    help="Colour map of heatmaps (default: magma; coolwarm for mfcc and chroma).",
)
@output_policy_options(per_file=True, tables=False)
@json_option
def plot_cmd(
    batch: BatchOptions,
    kind: str,
    output: str | None,
    name: str | None,
    outputs: OutputOptions,
    as_json: bool,
    **kw: Any,
) -> None:
    """Draw a picture of each file, headless (PNG, Agg backend).

    \b
    Kinds:
      waveform  the samples; long spans as a min/max envelope per pixel column
      spectrum  FFT magnitude in dB of the span (Hann window; spans over 2^21
                samples: mean magnitude of 2^21-sample segments)
      psd       Welch power spectral density (Hann, --n-fft segments, 50 % overlap)
      features  spectral centroid, rolloff and bandwidth, normalised, over the waveform
      zcr       a zoomed window (default: 10 ms in the middle) with zero crossings marked
      mfcc      MFCC heatmap (--n-mfcc, --n-mels; colours fit coefficients 1+)
      chroma    chromagram heatmap (librosa chroma_stft)
      onsets    onsets (dashed) and beats (solid) over the waveform, with the tempo
      overview  waveform, STFT dB, mel dB and PSD panels of the mono mix

    Stereo files are drawn as one lane per channel (--channel picks one, or
    'mix'). waveform, spectrum, psd and overview stream the file in bounded
    memory (a 3-hour file draws in seconds); features, zcr, mfcc, chroma and
    onsets read the span into memory and refuse spans over 30 minutes (use
    --start/--duration).
    """

    figure = build_figure(kw)
    cmap = kw.pop("cmap")
    spectral = build_spectral(kw, n_mels=kw.pop("n_mels"), n_mfcc=kw.pop("n_mfcc"), cmap=cmap)
    tasks.validate(figure, spectral, kind)
    run = BatchRun(batch, desc=f"plot {kind}", output=output)
    if run.inputs:
        plan = plan_files(
            output,
            run.inputs,
            template=PNG_TEMPLATE,
            suffixes=(".png",),
            options=outputs,
            fields={"kind": kind, "ext": "png"},
            name=name,
            scratch=stdout_scratch,
        )
        with file_outputs(run, [plan], outputs, lambda inp: [plan.path_for(inp)]) as todo:
            job = tasks.PlotJob(kind, figure, spectral, plan)
            task = functools.partial(tasks.plot_task, job)
            warm_up = functools.partial(tasks.warm_up, job)
            report(run, run.run(task, todo, warm_up=warm_up), as_json, plan.mode == "stdout")
    run.exit()


#: Default names of pictures under -o DIR.
PNG_TEMPLATE = "{stem}.{kind}.{ext}"
