"""``audiokit spectrogram``: dB spectrograms (linear, log or mel frequency) as PNG, and data."""

from __future__ import annotations

import functools
from pathlib import Path, PurePath
from typing import Any

import click

from audiokit.cli.common import BatchRun, file_outputs, stdout_scratch
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    json_option,
    n_mels_option,
    name_option,
    output_option,
    output_policy_options,
)
from audiokit.cli.plot import build_figure, build_spectral, figure_options, report, spectral_options
from audiokit.output.naming import output_mode, plan_files
from audiokit.output.policy import OutputOptions
from audiokit.plots import SCALES, tasks
from audiokit.plots.spectrogram import DATA_SUFFIXES


@click.command(
    "spectrogram",
    epilog="""\b
Examples:
  audiokit spectrogram talk.wav -o talk.png
  audiokit spectrogram song.flac --scale mel --n-mels 128 --fmax 8000 -o song.png
  audiokit spectrogram tone.wav --scale linear --fmax 2000 --data tone.npy
  audiokit spectrogram speech.wav --preemphasis -o pre.png   # original vs pre-emphasised
  audiokit spectrogram corpus/ -o pics/ --data mats/ --data-format parquet -j 2
  audiokit spectrogram 3h.flac --start 3600 --duration 600 --dpi 150 -o part.png
  audiokit spectrogram corpus/ -o pics/ --skip-existing      # only the missing images
""",
)
@batch_options
@output_option(
    "A .png for one input, '-' for standard output, or a directory for many (mirrors the "
    "input tree, names {stem}.spectrogram.png). Default for one input: {stem}.spectrogram.png."
)
@name_option("{stem}.spectrogram.png")
@click.option(
    "--scale",
    type=click.Choice(SCALES),
    default="log",
    show_default=True,
    help="Frequency axis: linear, log (the linear STFT on a log-frequency axis) "
    "or mel (mel power in --n-mels bands).",
)
@n_mels_option()
@figure_options
@spectral_options
@click.option("--cmap", default="magma", show_default=True, help="Matplotlib colour map.")
@click.option(
    "--preemphasis",
    type=float,
    is_flag=False,
    flag_value=0.97,
    default=None,
    metavar="[COEF]",
    help="Also draw the spectrogram after pre-emphasis "
    "y[n] - COEF*y[n-1] (default COEF 0.97), below the original.",
)
@click.option(
    "--data",
    metavar="PATH",
    help="Also write the drawn dB matrix: FILE.npy (shape (bins, frames); "
    "(channels, bins, frames) for several lanes) or FILE.parquet (long format: "
    "[channel,] time, frequency, db); a directory for many inputs (names: the image's, "
    "with .npy or .parquet).",
)
@click.option(
    "--data-format",
    type=click.Choice(["npy", "parquet"]),
    default="npy",
    show_default=True,
    help="Format of --data files written into a directory.",
)
@output_policy_options(per_file=True, tables=False)
@json_option
def spectrogram_cmd(
    batch: BatchOptions,
    output: str | None,
    name: str | None,
    outputs: OutputOptions,
    scale: str,
    data: str | None,
    data_format: str,
    preemphasis: float | None,
    as_json: bool,
    **kw: Any,
) -> None:
    """Draw the spectrogram of each file: magnitude in dB relative to its maximum.

    Follows librosa: STFT with --n-fft/--hop-length/--window, centred frames,
    amplitude_to_db(|S|, ref=max, top_db); mel: power_to_db of the mel power.
    With several channels, each gets a lane; the colour bar is shared (0 dB
    is the loudest bin over all lanes).

    Long files: the STFT is computed block by block and the power of
    consecutive frames is averaged (mean) so that at most --max-columns
    columns remain (default: one per pixel of image width); memory stays
    bounded whatever the duration. --data writes that drawn matrix.
    """

    figure = build_figure(kw)
    spectral = build_spectral(kw, n_mels=kw.pop("n_mels"), cmap=kw.pop("cmap"))
    tasks.validate(figure, spectral, "spectrogram")
    if preemphasis is not None and not 0.0 <= preemphasis < 1.0:
        raise click.BadParameter("must be in [0, 1)", param_hint="--preemphasis")
    run = BatchRun(batch, desc="spectrogram", output=output)
    if run.inputs:
        plan = plan_files(
            output,
            run.inputs,
            template="{stem}.spectrogram.{ext}",
            suffixes=(".png",),
            options=outputs,
            fields={"kind": "spectrogram", "ext": "png"},
            name=name,
            scratch=stdout_scratch,
        )
        plans = [plan]
        data_plan = None
        if data is not None:
            if data == "-" or plan.mode == "stdout":
                raise click.UsageError("--data and -o - : standard output holds one file")
            mode = output_mode(data, DATA_SUFFIXES, "--data")
            data_ext = Path(data).suffix.lstrip(".") if mode == "file" else data_format
            template = plan.template
            if "{ext}" not in template:
                template = str(PurePath(template).with_suffix("")) + ".{ext}"
            data_plan = plan_files(
                data,
                run.inputs,
                template=template,
                suffixes=DATA_SUFFIXES,
                options=outputs,
                fields={"kind": "spectrogram", "ext": data_ext},
                option="--data",
            )
            plans.append(data_plan)

        def targets(inp: Any) -> list[Path]:
            paths = [plan.path_for(inp)]
            if data_plan is not None:
                paths.append(data_plan.path_for(inp))
            return paths

        with file_outputs(run, plans, outputs, targets) as todo:
            job = tasks.SpectrogramJob(figure, spectral, plan, scale, preemphasis, data_plan)
            task = functools.partial(tasks.spectrogram_task, job)
            report(run, run.run(task, todo), as_json, plan.mode == "stdout")
    run.exit()
