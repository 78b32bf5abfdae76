"""Preprocess one file: pick the path (in memory or streaming), run the plan, write, report.

:func:`preprocess_file` is what the batch task calls. The in-memory path
decodes the whole file and runs the steps of :mod:`audiokit.preprocess.steps`
in the plan's order over a list of arrays (one array, or one per segment
once ``segment`` has run). The streaming path
(:mod:`audiokit.preprocess.streaming`) is chosen for long files (over
:data:`LONG_SECONDS`) when every enabled step can run block by block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from audiokit.errors import UsageError
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.output import Encoding, FileReport, OutputSet, OutputSpec

if TYPE_CHECKING:
    import numpy as np

    from audiokit.audio_io import AudioInfo
    from audiokit.inputs import Input

#: Files longer than this (s) go through the streaming path when the plan allows it.
LONG_SECONDS = 600.0
#: Frames per block on the streaming path.
BLOCKSIZE = 1 << 16
STREAMING_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to preprocess any input of the batch.

    Attributes
    ----------
    plan : Plan
    spec : OutputSpec
    streaming : str
        ``auto`` (long files with blockable plans), ``on`` or ``off``.
    long_seconds : float
        Threshold of ``auto``.
    blocksize : int
        Frames per block when streaming.
    """

    plan: Plan
    spec: OutputSpec
    streaming: str = "auto"
    long_seconds: float = LONG_SECONDS
    blocksize: int = BLOCKSIZE
    start: float = 0.0
    duration: float | None = None

    def span_seconds(self, info: AudioInfo) -> float:
        first, last = self.span(info)
        return (last - first) / info.samplerate

    def span(self, info: AudioInfo) -> tuple[int, int]:
        """The frames of each input to process (``--start``/``--duration``)."""
        from audiokit.audio_io import span_frames

        return span_frames(info, self.start, self.duration)

    def check(self) -> None:
        """Refuse ``streaming="on"`` with a plan that cannot stream (UsageError)."""
        if self.streaming not in STREAMING_MODES:
            raise UsageError(f"--streaming must be one of {', '.join(STREAMING_MODES)}")
        if self.streaming == "on" and not self.plan.blockable:
            raise UsageError(
                "--streaming on: trim, remove-silence, denoise, --limit and steps placed "
                "after pad-to/trim-to/segment/fade need the whole file in memory"
            )

    def use_streaming(self, info: AudioInfo) -> bool:
        if self.streaming == "off" or not self.plan.blockable:
            return False
        return self.streaming == "on" or self.span_seconds(info) > self.long_seconds


#: Float copies of the signal the in-memory path holds at its peak (input, steps, output).
IN_MEMORY_COPIES = 8


def estimate_memory(job: Job, info: AudioInfo) -> float:
    """Peak bytes of preprocessing this input, about (bounded when it streams)."""
    if job.use_streaming(info):
        return float(64 * 2**20 + job.blocksize * info.channels * 4 * IN_MEMORY_COPIES)
    rate = max(info.samplerate, job.plan.sr or 0)
    seconds = max(info.duration, job.plan.pad_to or 0.0)
    return float(200 * 2**20 + seconds * rate * info.channels * 4 * IN_MEMORY_COPIES)


#: Steps that call librosa (and so its numba kernels).
LIBROSA_STEPS = ("trim", "remove-silence", "denoise")
#: Rate of the warm-up probe.
PROBE_SR = 22050


def warm_up(plan: Plan) -> None:
    """Prepare this process for forking the workers that will run ``plan``.

    Imports what they need once here, so that forked workers share it instead
    of each paying for it (scipy.signal: over a second on a busy machine), and
    runs the librosa steps once on a probe signal so that they inherit its
    compiled kernels (see :mod:`audiokit.warmup`).
    """
    import soundfile  # noqa: F401
    import soxr  # noqa: F401

    from audiokit.preprocess import loudness, output, steps, streaming  # noqa: F401
    from audiokit.sosfilt import _kernel

    _kernel()  # the loudness filter
    if {"highpass", "lowpass"} & set(plan.steps):
        import scipy.signal  # noqa: F401  (filter design: over half a second to import)

    if not set(LIBROSA_STEPS) & set(plan.steps):
        return
    from audiokit.warmup import probe_signal

    y = probe_signal(PROBE_SR, channels=2)
    if {"trim", "remove-silence"} & set(plan.steps):
        steps.trim(y, PROBE_SR, plan.top_db, plan.pad_ms)
        steps.remove_silence(y, PROBE_SR, plan.top_db, plan.pad_ms)
    if "denoise" in plan.steps:
        steps.denoise(y, PROBE_SR, plan.denoise_strength)


def preprocess_file(job: Job, inp: Input) -> FileReport:
    """Run ``job`` on one input and write its outputs.

    Raises
    ------
    AudiokitError
        Unreadable input, existing output (without overwrite), output equal
        to an input, too short or silent for a step.
    """
    from audiokit import audio_io
    from audiokit.preprocess.output import resolve_encoding

    info = audio_io.probe(inp.path)
    # Steps that would change nothing for this input are dropped: its samples then pass
    # bit for bit, without dither.
    job = replace(job, plan=job.plan.for_input(info.samplerate, info.channels))
    enc = resolve_encoding(job.spec, info, job.plan.exact)
    segmented = "segment" in job.plan.steps
    if job.spec.out is not None:
        _precheck(job.spec, enc, inp, segmented)
    if job.use_streaming(info):
        from audiokit.preprocess.streaming import process_streaming

        return process_streaming(job, inp, info, enc)
    return _process_in_memory(job, inp, info, enc)


def _precheck(spec: OutputSpec, enc: Encoding, inp: Input, segmented: bool) -> None:
    """Fail before any work when the (first) output is an input or already exists."""
    from audiokit.preprocess.output import output_paths

    if spec.out is None or spec.dry_run:
        return
    first = output_paths(inp, spec, enc.ext, 1 if segmented else None)[0]
    with OutputSet(spec, enc, 1, 1) as outs:
        outs.check(first)


def new_report(job: Job, inp: Input, info: AudioInfo, enc: Encoding, streaming: bool) -> FileReport:
    """A report with the input facts and settings filled in."""
    return FileReport(
        input=inp.display,
        duration_in=job.span_seconds(info),
        sr_in=info.samplerate,
        channels_in=info.channels,
        format=enc.ext,
        subtype=enc.subtype,
        dithered=enc.dither,
        streaming=streaming,
        dry_run=job.spec.dry_run,
        steps=job.plan.describe(),
    )


def normalize_chunk(y: np.ndarray, sr: int, plan: Plan, rep: FileReport) -> np.ndarray:
    """``--normalize`` on one array, never past the ceiling; notes gain and warnings in ``rep``."""
    from audiokit.preprocess import loudness as ld

    mode = plan.normalize or "peak"
    target = plan.target_level
    measured = ld.measure(mode, y, sr)
    dec = ld.decide_gain(mode, measured, ld.peak_dbfs(y), target, plan.ceiling, plan.limit)
    out = ld.apply_gain(y, dec.gain_db)
    gain = dec.gain_db
    if dec.limit:
        out = ld.limit(out, sr, plan.ceiling)
        if mode == "loudness":  # the limiter lowers loudness: raise the gain to compensate
            for _ in range(4):
                err = target - ld.integrated_loudness(out, sr)
                if not math.isfinite(err) or abs(err) < 0.05:
                    break
                gain += err
                out = ld.limit(ld.apply_gain(y, gain), sr, plan.ceiling)
        rep.limited = True
        rep.warnings.append(
            f"normalize: peaks limited to {plan.ceiling:g} dBFS to reach {target:g} "
            f"{'LUFS' if mode == 'loudness' else 'dBFS'}"
        )
    elif dec.gain_reduced:
        rep.gain_reduced = True
        rep.warnings.append(ld.gain_reduced_warning(mode, dec, target, plan.ceiling))
    rep.gain_db += gain
    return out


def apply_step(
    step: str, chunks: list[np.ndarray], sr: int, plan: Plan, rep: FileReport
) -> tuple[list[np.ndarray], int]:
    """Run one step over every chunk; returns the new chunks and rate."""
    from audiokit.preprocess import steps as st

    if step == "segment":
        assert plan.segment is not None
        return [s for y in chunks for s in st.segment(y, sr, plan.segment, plan.overlap)], sr
    if step == "normalize":
        return [normalize_chunk(y, sr, plan, rep) for y in chunks], sr
    if step == "gain" and plan.gain_db is not None:
        rep.gain_db += plan.gain_db
    out = []
    new_sr = sr
    for y in chunks:
        if step == "channels":
            y, new_sr = st.select_channels(y, sr, plan.mono, plan.channel)
        elif step == "sr":
            assert plan.sr is not None
            y, new_sr = st.resample(y, sr, plan.sr)
        elif step == "trim":
            y, new_sr = st.trim(y, sr, plan.top_db, plan.pad_ms)
        elif step == "remove-silence":
            y, new_sr = st.remove_silence(y, sr, plan.top_db, plan.pad_ms)
        elif step == "denoise":
            y, new_sr = st.denoise(y, sr, plan.denoise_strength)
        elif step == "highpass":
            assert plan.highpass is not None
            y, new_sr = st.highpass(y, sr, plan.highpass)
        elif step == "lowpass":
            assert plan.lowpass is not None
            y, new_sr = st.lowpass(y, sr, plan.lowpass)
        elif step == "preemphasis":
            assert plan.preemphasis is not None
            y, new_sr = st.preemphasis(y, sr, plan.preemphasis)
        elif step == "gain":
            assert plan.gain_db is not None
            y, new_sr = st.gain(y, sr, plan.gain_db)
        elif step == "pad-to":
            assert plan.pad_to is not None
            y, new_sr = st.pad_to(y, sr, plan.pad_to)
        elif step == "trim-to":
            assert plan.trim_to is not None
            y, new_sr = st.trim_to(y, sr, plan.trim_to)
        elif step == "fade":
            assert plan.fade_ms is not None
            y, new_sr = st.fade(y, sr, plan.fade_ms)
        else:  # pragma: no cover - chain.canonical refuses unknown names
            raise UsageError(f"unknown step {step!r}")
        out.append(y)
    return out, new_sr


def run_steps(
    y: np.ndarray, sr: int, plan: Plan, rep: FileReport | None = None
) -> tuple[list[np.ndarray], int]:
    """Run the whole plan in memory.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n)
    sr : int
    plan : Plan
    rep : FileReport, optional
        Collects gain, limiter and warnings.

    Returns
    -------
    chunks : list of np.ndarray, each (channels, m)
        One array, or one per segment.
    sr : int
    """
    rep = rep if rep is not None else FileReport(input="")
    chunks = [y]
    for step in plan.steps:
        chunks, sr = apply_step(step, chunks, sr, plan, rep)
    return chunks, sr


def _process_in_memory(job: Job, inp: Input, info: AudioInfo, enc: Encoding) -> FileReport:
    import numpy as np

    from audiokit import audio_io
    from audiokit.preprocess import loudness as ld
    from audiokit.preprocess.output import output_paths

    rep = new_report(job, inp, info, enc, streaming=False)
    y, sr = audio_io.read(inp.path, info, offset=job.start, duration=job.duration)
    rep.peak_in_dbfs = ld.peak_dbfs(y)
    rep.lufs_in = ld.integrated_loudness(y, sr)
    chunks, sr = run_steps(y, sr, job.plan, rep)
    del y
    whole = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=-1)
    rep.sr_out = sr
    rep.channels_out = int(whole.shape[0])
    rep.duration_out = whole.shape[-1] / sr
    rep.peak_out_dbfs = ld.peak_dbfs(whole)
    rep.lufs_out = ld.integrated_loudness(whole, sr)
    del whole
    count = len(chunks) if "segment" in job.plan.steps else None
    if job.spec.out is not None:
        paths = output_paths(inp, job.spec, enc.ext, count)
        with OutputSet(job.spec, enc, sr, rep.channels_out) as outs:
            for path, chunk in zip(paths, chunks, strict=True):
                h = outs.open(path)
                outs.write(h, chunk)
                outs.close(h)
        rep.outputs = [str(p) for p in paths]
        finish_report(rep, outs)
    return rep


def finish_report(rep: FileReport, outs: OutputSet) -> None:
    """Note clipped samples (only when the steps asked for more than full scale) and notes."""
    rep.clipped_samples = outs.clipped
    if outs.clipped:
        rep.warnings.append(f"{outs.clipped} sample(s) clipped at full scale when encoding")
    rep.warnings.extend(outs.notes)


__all__ = ["Job", "apply_step", "preprocess_file", "run_steps"]
