"""``audiokit features``: feature tables for machine learning, one spectrogram per file."""

from __future__ import annotations

import functools
import json
from dataclasses import replace
from importlib.metadata import version
from typing import Any

import click

from audiokit import __version__, audio_io, limits
from audiokit.batch import default_jobs
from audiokit.cli.common import BatchRun, table_sink
from audiokit.cli.feature_options import feature_params_options
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    csv_option,
    json_option,
    label_from_parent_option,
    output_policy_options,
    per_channel_option,
    span_options,
    table_format_option,
)
from audiokit.dsp import beat as rhythm
from audiokit.errors import UsageError
from audiokit.features import FeatureResult, extract_channels, extract_file, groups, schema
from audiokit.features.blocks import estimate_memory, single_thread_blas, uses_scipy_fft
from audiokit.features.schema import (
    FeatureParams,
    frame_columns,
    summary_columns,
)
from audiokit.features.warm import warm_up
from audiokit.inputs import Input
from audiokit.limits import DURATION_MAX, WINDOW_HOP_MIN, check_range
from audiokit.output.policy import OutputOptions
from audiokit.output.tables import TableSpec

INDEX_TYPES = {
    "path": "string",
    "label": "string",
    "duration": "float64",
    "sample_rate": "int32",
    "channel": "int32",
    "frame": "int64",
    "time": "float64",
    "segment": "int32",
    "start": "float64",
    "end": "float64",
}


def _task(
    inp: Input,
    params: FeatureParams,
    frames: bool,
    window: float | None,
    window_hop: float | None,
    block_jobs: int,
    start: float = 0.0,
    duration: float | None = None,
) -> list[FeatureResult]:

    single_thread_blas()
    extract = extract_file if params.mono else extract_channels
    res = extract(
        inp.path,
        params,
        frames=frames,
        window=window,
        window_hop=window_hop,
        jobs=block_jobs,
        start=start,
        duration=duration,
    )
    return res if isinstance(res, list) else [res]


def _preload(params: FeatureParams, inputs: list[Input]) -> None:
    """Import what the workers need once here, so that forked workers share it.

    The default groups need numpy only; scipy.fft (~0.4 s to import) is loaded here
    when one of a few inputs will make FFTs big enough for it
    (:func:`features.blocks.uses_scipy_fft`). librosa, for the CQT, HPSS and pYIN
    groups, is loaded and compiled by :func:`features.warm_up`.
    """

    if len(inputs) <= 8:
        for inp in inputs:
            info = audio_io.probe_quiet(inp.path)  # None: the task reports it
            if info is None:
                continue
            n = int(info.duration * (params.sr or info.samplerate))
            if uses_scipy_fft(params, n, params.sr or info.samplerate):
                import scipy.fft  # noqa: F401

                break


@click.command(
    "features",
    epilog="""\b
Examples:
  audiokit features data/ -o features.parquet
  audiokit features data/ -o features.parquet --label-from-parent   # data/<class>/*.wav
  audiokit features data/ -o features.parquet --update   # only new and changed files
  audiokit features clip.wav --features mfcc,rms --json | jq .mfcc_00_mean
  audiokit features 'speech/**/*.flac' --features default,f0 --sr 16000 -o speech.parquet
  audiokit features song.flac --frames -o song_frames.parquet
  audiokit features talk.wav --segment 5 --overlap 2.5 --stats mean,median,p90 -o talk.csv
  audiokit features --list-columns --features mfcc --n-mfcc 20
  audiokit features long.flac --segment 10 --frame-local -o long.parquet   # one pass
\b
Feature groups (--features, comma list; 'default' and 'all' also work):
  mfcc      MFCC (--n-mfcc) + delta + delta-delta      [default]
  mel       mel band energies in dB (--n-mels)         [default]
  spectral  centroid, bandwidth, rolloff, contrast(7), flatness   [default]
  zcr, rms  zero-crossing rate, RMS energy             [default]
  chroma    chroma from the STFT (file's tuning)       [default]
  onset     onset strength                             [default]
  tempo     tempo (BPM) and beat count per file/segment [default]
  cens      chroma CENS (constant-Q)                   [opt-in, slower]
  tonnetz   tonal centroids (constant-Q chroma)        [opt-in, slower]
  hpss      harmonic share of the energy (HPSS)        [opt-in, slow]
  f0        pYIN f0 and voicing, for speech            [opt-in, slow]
""",
)
@batch_options
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write a table: .parquet, .csv, .tsv or .jsonl (by extension); '-' for standard "
    "output (--format, default csv).",
)
@json_option
@csv_option
@table_format_option
@output_policy_options(per_file=False)
@feature_params_options
@span_options
@click.option(
    "--frames",
    is_flag=True,
    help="One row per frame (with its time in seconds) instead of one per file.",
)
@click.option(
    "--segment",
    "window",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="One row of statistics per segment of SECONDS (as preprocess --segment cuts).",
)
@click.option(
    "--overlap",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Overlap of consecutive segments (default 0).",
)
@label_from_parent_option
@per_channel_option(
    "Features of each channel apart (stereo files: two rows per file, per window or per "
    "frame, numbered in the column 'channel') instead of the channels mixed to mono."
)
@click.option(
    "--list-columns",
    is_flag=True,
    help="Print the feature column names for these options and exit.",
)
def features_cmd(
    batch: BatchOptions,
    output: str | None,
    as_json: bool,
    as_csv: bool,
    table_format: str | None,
    outputs: OutputOptions,
    params: FeatureParams,
    frames: bool,
    window: float | None,
    overlap: float | None,
    label_from_parent: bool,
    per_channel: bool,
    start: float,
    duration: float | None,
    list_columns: bool,
) -> None:
    """Extract audio features into one table: a row per file, per window or per frame.

    One STFT per file feeds every spectral feature (as librosa's S= parameters);
    audio is mixed to mono (--per-channel: each channel apart, a row per channel
    with its number in the column 'channel') and resampled to --sr. Summary rows
    hold statistics over time of every feature dimension, named <feature>[_<dim>]_<stat>
    (mfcc_00_mean, spectral_centroid_std, ...), as float32, after the columns
    path, [label], duration, sample_rate, [channel] ([segment, start, end] with --segment;
    frame, time with --frames, where per-file values such as tempo are left out).

    Values equal librosa's defaults on the whole file (dB floored 80 dB below the
    file's maximum, chroma at its estimated tuning; files over one block take two
    passes); --frame-local makes each frame depend on its neighbourhood only.

    Short clips give valid rows (deltas shrink to the clip; NaN under 3 frames);
    long files are processed in blocks with bounded memory.
    Writes Parquet (row groups as files finish, parameters in the schema
    metadata), CSV/TSV or JSON lines with -o; without -o prints JSON lines
    (or CSV with --csv).
    """
    if frames and window:
        raise UsageError("--frames and --segment exclude each other")
    params = replace(params, mono=not per_channel)
    if overlap is not None and window is None:
        raise UsageError("--overlap needs --segment")
    check_range("--segment", window, WINDOW_HOP_MIN, DURATION_MAX, "s")
    window_hop = None
    if window is not None and overlap:
        if overlap >= window:
            raise UsageError(f"--overlap {overlap:g} s must be shorter than --segment {window:g} s")
        window_hop = window - overlap
        check_range(
            "a segment hop (--segment - --overlap)", window_hop, WINDOW_HOP_MIN, DURATION_MAX, "s"
        )
    feat_cols = frame_columns(params) if frames else summary_columns(params)
    if list_columns:
        for c in feat_cols:
            click.echo(c)
        return
    shape = "frames" if frames else ("windows" if window else "summary")
    index = {"frames": ["frame", "time"], "windows": ["segment", "start", "end"]}.get(shape, [])
    label = ["label"] if label_from_parent else []
    channel = [] if params.mono else ["channel"]
    columns = ["path", *label, "duration", "sample_rate", *channel, *index, *feat_cols]
    types = {**INDEX_TYPES, **{c: "float32" for c in feat_cols}}
    options = _options(frames, window, window_hop, label_from_parent)
    options.update(start=start, duration=duration)
    sink = table_sink(
        output,
        TableSpec(tuple(columns), types),
        table_format=table_format,
        as_json=as_json,
        as_csv=as_csv,
        terminal=False,  # hundreds of columns: JSON lines on a terminal too
        identity={"command": "features", "params": json.loads(params.to_json()), **options},
        metadata=_metadata(params, options),
        options=outputs,
    )
    run = BatchRun(batch, desc="features", output=output)
    _check_memory(params, frames, run.inputs, batch)
    with sink:
        todo = sink.open(run.inputs)
        run.skip(sink.kept_inputs)
        _preload(params, todo)
        # Fewer files than workers (one long recording): split each file's blocks over them
        # (here only: a Dask worker computes a file's blocks itself).
        jobs = batch.jobs or default_jobs()
        n_inputs = max(len(todo), 1)
        block_jobs = jobs // n_inputs if n_inputs < jobs and not batch.scheduler else 1
        task = functools.partial(
            _task,
            params=params,
            frames=frames,
            window=window,
            window_hop=window_hop,
            block_jobs=block_jobs,
            start=start,
            duration=duration,
        )
        for res in run.run(task, todo, warm_up=functools.partial(warm_up, params)):
            for r in res.value:
                prefix: dict[str, Any] = {"path": res.input.display}
                if label_from_parent:
                    prefix["label"] = res.input.folder
                prefix["duration"] = r.duration
                prefix["sample_rate"] = r.sr
                if not params.mono:
                    prefix["channel"] = r.channel
                # Written from the float32 matrix column by column (Parquet row groups,
                # CSV/JSON text), never as a Python dict per row.
                sink.add(res.input, r.column_batch(prefix))
    run.exit()


def _check_memory(
    params: FeatureParams, frames: bool, inputs: list[Input], batch: BatchOptions
) -> None:
    """Refuse options whose estimated peak memory per worker is over the budget."""

    longest = 0.0
    if frames:  # only --frames grows with the input
        longest = max((_duration(i) for i in inputs), default=0.0)
    jobs = max(1, min(batch.jobs or default_jobs(), len(inputs) or 1))
    limits.check_memory(
        estimate_memory(params, frames, longest),
        limits.budget(batch.max_memory, jobs),
        "these feature options" + (f" with --frames on a {longest:.0f} s input" if frames else ""),
    )


def _duration(inp: Input) -> float:
    info = audio_io.probe_quiet(inp.path)  # None: the task reports it
    return info.duration if info is not None else 0.0


def _options(
    frames: bool, window: float | None, window_hop: float | None, label: bool
) -> dict[str, Any]:
    shape = "frames" if frames else ("windows" if window else "summary")
    return {
        "shape": shape,
        "window": window,
        "window_hop": window_hop or window,
        "label_from_parent": label,
    }


def _metadata(params: FeatureParams, options: dict[str, Any]) -> dict[str, str]:
    return {
        "audiokit.command": "features",
        "audiokit.version": __version__,
        "librosa.version": version("librosa"),
        "audiokit.features.params": params.to_json(),
        "audiokit.features.options": json.dumps(options, sort_keys=True),
        "audiokit.features.constants": json.dumps(_constants(params), sort_keys=True),
    }


def _constants(params: FeatureParams) -> dict[str, Any]:
    """Fixed analysis choices (not options), recorded with the parameters."""

    local = params.frame_local
    return {
        "stft": {"window": "hann", "center": True, "pad_mode": "constant"},
        "db": {"amin": schema.AMIN, "ref": 1.0, "top_db": None if local else schema.TOP_DB},
        "mel": {"htk": False, "norm": "slaney"},
        "mfcc": {"dct_type": 2, "norm": "ortho", "lifter": 0, "delta_width": 9},
        "zcr": {"frame_length": "n_fft", "threshold": 1e-10},
        "rms": {"frame_length": "n_fft"},
        "spectral": {
            "contrast_fmin": 200.0,
            "contrast_bands": schema.CONTRAST_BANDS,
            "contrast_quantile": 0.02,
        },
        "chroma": {"tuning": 0.0 if local else "estimated", "norm": "inf"},
        "cqt": {
            "fmin": groups.CQT_FMIN,
            "bins_per_octave": groups.CQT_BINS_PER_OCTAVE,
            "max_octaves": groups.CQT_OCTAVES,
            "tuning": 0.0,
        },
        "onset": {"lag": 1, "max_size": 1, "aggregate": "mean"},
        "tempo": {
            "onset_aggregate": "median",
            "ac_size_s": 8.0,
            "start_bpm": rhythm.START_BPM,
            "std_bpm": 1.0,
            "max_tempo": rhythm.MAX_TEMPO,
            "tightness": 100,
            "trim": True,
        },
        "hpss": {"kernel_size": groups.HPSS_KERNEL, "power": 2.0, "margin": 1.0},
        "pyin": {"fmin": schema.F0_MIN, "fmax": schema.F0_MAX, "frame_length": "max(n_fft, 2048)"},
    }
