"""The streaming path: long files processed block by block in bounded memory.

The steps with a block processor (:mod:`audiokit.preprocess.blocks`: channel
selection, soxr's ``ResampleStream``, the Butterworth filters and the
pre-emphasis with their state carried across blocks, gain) run as such; they
are the code the in-memory path runs too. Normalisation takes two passes: the
first runs the steps before ``normalize`` and measures (peak, RMS, or BS.1770
loudness with :class:`~audiokit.bs1770.StreamingLoudness`), the
second applies the gain it decided. The steps marked ``sink`` in
:data:`~audiokit.preprocess.registry.STEPS` (pad-to, trim-to, segment, fade) run
at the output end (:class:`Sink`); a segment is held in memory while it fills,
so memory is bounded by the block size plus one segment.

When the steps before ``normalize`` do something (resampling, filters) and
there is an output, pass 1 also keeps their samples in an anonymous spill file
(:class:`~audiokit.preprocess.spill.Spill`), and pass 2 reads them back instead
of decoding and computing them again: the same blocks, so the same output bytes
(dither included). For a lone long file (``Job.threads`` > 1) the input's
meter runs on a second thread (:class:`~audiokit.preprocess.spill.Background`).

The steps that need the whole signal (trim, remove-silence, denoise, and the
limiter of ``--limit``) keep a plan on the in-memory path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from audiokit import audio_io
from audiokit.audio_io import AudioInfo
from audiokit.bs1770 import StreamingLoudness
from audiokit.dsp.levels import PeakRms, db, max_abs
from audiokit.inputs import Input
from audiokit.preprocess.blocks import Processor, empty, run_blocks
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.job import Job, finish_report, new_report
from audiokit.preprocess.loudness import decide_gain, gain_reduced_warning
from audiokit.preprocess.output import (
    Encoding,
    FileReport,
    OutputSet,
    OutputSpec,
    output_paths,
    segment_path,
)
from audiokit.preprocess.registry import step as registered
from audiokit.preprocess.spill import Background, Spill
from audiokit.preprocess.steps import fade, fade_curve, n_samples, segment_sizes


class Meter:
    """Peak and, optionally, RMS and BS.1770 loudness of a stream of ``(channels, n)`` blocks.

    Only what is asked is measured: the peak is one exact max per block, RMS
    (``rms=True``) sums squares in float64, loudness filters the signal.
    """

    def __init__(self, sr: int, channels: int, loudness: bool = True, rms: bool = True) -> None:
        self.peak = 0.0
        self.levels = PeakRms(channels) if rms else None
        self.lufs = StreamingLoudness(sr, channels) if loudness else None

    def update(self, block: np.ndarray) -> None:
        self.peak = max(self.peak, max_abs(block))
        if self.levels is not None:
            self.levels.update(block.T)
        if self.lufs is not None:
            self.lufs.update(block)

    def level(self, mode: str) -> float:
        """``peak`` or ``rms`` (dBFS), or ``loudness`` (LUFS); NaN when not measured."""
        if mode == "peak":
            return db(self.peak)
        if mode == "rms":
            return db(self.levels.total_rms) if self.levels is not None else math.nan
        return self.lufs.result() if self.lufs is not None else math.nan


def build_processors(
    plan: Plan, sr: int, channels: int, steps: Iterable[str], norm_gain: float | None = None
) -> tuple[list[Processor], int, int]:
    """Processors for the block steps among ``steps``; returns them and the output rate/channels.

    ``norm_gain``: the gain ``normalize`` applies (None: the first pass, which only measures).
    """
    procs: list[Processor] = []
    for name in steps:
        factory = registered(name).stream
        if factory is None:
            continue
        p = factory.get()(channels, sr, plan, norm_gain)
        if p is None:
            continue
        channels = p.out_channels or channels
        sr = p.out_sr or sr
        procs.append(p)
    return procs, sr, channels


class Sink:
    """The output end: pad-to / trim-to, segmenting and fades, then the files.

    Parameters
    ----------
    plan
        Its sink steps (in order) are applied.
    sr, channels
        Of the blocks that arrive.
    outs
        Where files go; ``name(index)`` gives the path of output ``index``
        (``None``: not segmented).
    """

    def __init__(
        self, plan: Plan, sr: int, channels: int, outs: OutputSet, name: Any, meter: Meter
    ) -> None:
        self.plan, self.sr, self.channels, self.outs, self.name = plan, sr, channels, outs, name
        self.meter = meter
        self.length_ops = [
            (s, n_samples((plan.pad_to if s == "pad-to" else plan.trim_to) or 0.0, sr))
            for s in plan.steps
            if s in ("pad-to", "trim-to")
        ]
        self.passed = [0] * len(self.length_ops)
        self.segmented = "segment" in plan.steps
        self.seg = segment_sizes(plan.segment or 0.0, plan.overlap, sr) if self.segmented else None
        self.fade = n_samples((plan.fade_ms or 0.0) / 1000, sr) if "fade" in plan.steps else 0
        self.buf = empty(channels)
        self.index = 0
        self.handle: int | None = None
        self.written = 0
        self.total = 0

    # -- length ops (pad-to / trim-to), applied in order
    def _length(self, block: np.ndarray, final: bool) -> np.ndarray:
        for i, (op, n) in enumerate(self.length_ops):
            if op == "trim-to":
                block = block[:, : max(0, n - self.passed[i])]
            elif final and self.passed[i] + block.shape[-1] < n:
                pad = n - self.passed[i] - block.shape[-1]
                block = np.pad(block, ((0, 0), (0, pad)))
            self.passed[i] += block.shape[-1]
        return block

    def feed(self, block: np.ndarray) -> None:
        self._emit(self._length(block, final=False), final=False)

    def finish(self) -> None:
        self._emit(self._length(empty(self.channels), final=True), final=True)

    def _emit(self, block: np.ndarray, final: bool) -> None:
        if self.seg is not None:
            size, hop = self.seg
            self.buf = np.concatenate([self.buf, block], axis=-1)
            while self.buf.shape[-1] >= size:
                self._write_unit(self.buf[:, :size])
                self.buf = self.buf[:, hop:]
            rest = self.buf.shape[-1]
            if final and rest and (self.index == 0 or rest > size - hop):
                self._write_unit(self.buf)
            return
        self._stream(block, final)

    def _write_unit(self, y: np.ndarray) -> None:
        if self.fade:
            y = fade(y, self.sr, (self.plan.fade_ms or 0.0))[0]
        h = self.outs.open(self.name(self.index))
        self.outs.write(h, y)
        self.outs.close(h)
        self.meter.update(y)
        self.total += y.shape[-1]
        self.index += 1

    def _stream(self, block: np.ndarray, final: bool) -> None:
        """One output, written as blocks arrive; the last ``fade`` samples are held back."""
        if self.handle is None:
            self.handle = self.outs.open(self.name(None))
        y = np.concatenate([self.buf, block], axis=-1) if self.buf.shape[-1] else block
        if not final:
            keep = min(self.fade, y.shape[-1])
            self.buf = y[:, y.shape[-1] - keep :].copy() if keep else empty(self.channels)
            y = y[:, : y.shape[-1] - keep]
        if self.fade:
            y = y.copy()
            if self.written < self.fade and y.shape[-1]:  # fade-in
                ramp = fade_curve(self.fade)[self.written : self.written + y.shape[-1]]
                y[:, : ramp.shape[0]] *= ramp
            if final:
                n = min(self.fade, y.shape[-1])
                if n:
                    y[:, -n:] *= fade_curve(self.fade)[::-1][-n:]
        self.outs.write(self.handle, y)
        self.meter.update(y)
        self.written += y.shape[-1]
        self.total += y.shape[-1]
        if final:
            self.outs.close(self.handle)


def process_streaming(job: Job, inp: Input, info: AudioInfo, enc: Encoding) -> FileReport:
    """Preprocess one long file block by block (see the module docstring)."""
    plan = job.plan
    rep = new_report(job, inp, info, enc, streaming=True)
    sr0, ch0 = info.samplerate, info.channels

    def blocks() -> Iterator[np.ndarray]:
        for b in audio_io.iter_blocks(inp.path, job.blocksize, info, *job.span(info)):
            yield b.T

    in_meter = Meter(sr0, ch0, rms=False)
    threaded = job.threads > 1
    if plan.gain_db is not None:
        rep.gain_db += plan.gain_db
    if "normalize" not in plan.steps:  # one pass
        procs, sr, ch = build_processors(plan, sr0, ch0, plan.steps)
        with Background(in_meter.update, threaded) as metering:
            _write(job, inp, enc, rep, procs, sr, ch, _tee(blocks(), metering.put))
    else:
        at = plan.steps.index("normalize")
        procs, sr1, ch1 = build_processors(plan, sr0, ch0, plan.steps[:at])
        mode = plan.normalize or "peak"
        mid = Meter(sr1, ch1, loudness=mode == "loudness", rms=mode == "rms")
        keep = bool(procs) and job.spec.out is not None and not job.spec.dry_run
        with Spill(ch1, _output_folder(job, inp, enc) if keep else None, keep) as spill:
            with Background(in_meter.update, threaded) as metering:
                for b in run_blocks(procs, _tee(blocks(), metering.put)):  # pass 1: measure
                    mid.update(b)
                    spill.write(b)
            norm_gain = _decide(plan, mode, mid, rep)
            if spill.usable:  # pass 2 reads what pass 1 made instead of making it again
                procs, sr, ch = build_processors(plan, sr1, ch1, plan.steps[at:], norm_gain)
                source = spill.blocks()
            else:  # pass 2 decodes and runs every step again
                procs, sr, ch = build_processors(plan, sr0, ch0, plan.steps, norm_gain)
                source = blocks()
            _write(job, inp, enc, rep, procs, sr, ch, source)
    rep.peak_in_dbfs = in_meter.level("peak")
    rep.lufs_in = in_meter.level("loudness")
    return rep


def _decide(plan: Plan, mode: str, mid: Meter, rep: FileReport) -> float:
    """The gain of ``--normalize`` from the first pass's levels; notes it in ``rep``."""
    dec = decide_gain(
        mode, mid.level(mode), mid.level("peak"), plan.target_level, plan.ceiling, limit=False
    )
    rep.gain_db += dec.gain_db
    if dec.gain_reduced:
        rep.gain_reduced = True
        rep.warnings.append(gain_reduced_warning(mode, dec, plan.target_level, plan.ceiling))
    return dec.gain_db


def _names(job: Job, inp: Input, enc: Encoding) -> Callable[[int | None], Path]:
    """Output paths: ``name(None)`` the single output, ``name(i)`` segment ``i``."""

    def name(index: int | None) -> Path:
        if job.spec.out is None:
            return Path(os.devnull)  # dry run without -o: nothing is opened for real
        if index is None:
            return output_paths(inp, job.spec, enc.ext, None)[0]
        return segment_path(inp, job.spec, enc.ext, index)

    return name


def _output_folder(job: Job, inp: Input, enc: Encoding) -> Path:
    """The directory of the (first) output: the spill file goes on the output's disk."""
    return _names(job, inp, enc)(0 if "segment" in job.plan.steps else None).parent


def _write(
    job: Job,
    inp: Input,
    enc: Encoding,
    rep: FileReport,
    procs: list[Processor],
    sr: int,
    ch: int,
    source: Iterable[np.ndarray],
) -> None:
    """The last pass: ``source`` through ``procs`` into the sink; fills the output facts."""
    out_meter = Meter(sr, ch, loudness=job.measure_output, rms=False)
    spec = job.spec if job.spec.out is not None else _dry(job)
    with OutputSet(spec, enc, sr, ch) as outs:
        sink = Sink(job.plan, sr, ch, outs, _names(job, inp, enc), out_meter)
        for b in run_blocks(procs, source):
            sink.feed(b)
        sink.finish()
    if job.spec.out is not None:
        rep.outputs = [str(p) for p in outs.paths]
    rep.sr_out, rep.channels_out = sr, ch
    rep.duration_out = sink.total / sr
    rep.peak_out_dbfs = out_meter.level("peak")
    rep.lufs_out = out_meter.level("loudness") if job.measure_output else None
    finish_report(rep, outs)


def _tee(
    blocks: Iterable[np.ndarray], meter: Callable[[np.ndarray], object]
) -> Iterator[np.ndarray]:
    for b in blocks:
        meter(b)
        yield b


def _dry(job: Job) -> OutputSpec:
    return replace(job.spec, dry_run=True)
