"""The streaming path: long files processed block by block in bounded memory.

Blockable steps (:data:`audiokit.preprocess.chain.BLOCK_STEPS`) become
stateful block processors: channel selection, soxr's ``ResampleStream``
(HQ, trimmed to the same ``ceil(n * sr_out / sr_in)`` length as the
in-memory path), causal Butterworth filters and pre-emphasis with their
state carried across blocks, and gain. Normalisation takes two passes: the
first runs the steps before ``normalize`` and measures (peak, RMS, or
BS.1770 loudness with :class:`~audiokit.preprocess.loudness.StreamingLoudness`),
the second applies the gain it decided. Pad-to, trim-to, segment and fade run
at the output end (:class:`Sink`); a segment is held in memory while it
fills, so memory is bounded by the block size plus one segment.

The limiter (``--limit``), trim, remove-silence and denoise need the whole
file and keep a plan on the in-memory path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit.preprocess.chain import BLOCK_STEPS, Plan

if TYPE_CHECKING:
    import numpy as np

    from audiokit.audio_io import AudioInfo
    from audiokit.inputs import Input
    from audiokit.preprocess.output import Encoding, FileReport, OutputSet
    from audiokit.preprocess.process import Job


def _empty(channels: int) -> np.ndarray:
    import numpy as np

    return np.zeros((channels, 0), np.float32)


class Processor:
    """A step over consecutive ``(channels, frames)`` blocks; ``flush`` returns what it held."""

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def process(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def flush(self) -> np.ndarray:
        return _empty(self.channels)


class Channels(Processor):
    def __init__(self, channels: int, plan: Plan) -> None:
        super().__init__(1)
        self.plan = plan

    def process(self, block: np.ndarray) -> np.ndarray:
        from audiokit.preprocess.steps import select_channels

        return select_channels(block, 0, self.plan.mono, self.plan.channel)[0]


class Resample(Processor):
    """soxr ``ResampleStream``, cut or padded to ``ceil(n_in * sr_out / sr_in)`` at the end."""

    def __init__(self, channels: int, sr_in: int, sr_out: int) -> None:
        import soxr

        super().__init__(channels)
        self.sr_in, self.sr_out = sr_in, sr_out
        self.stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality="HQ")
        self.n_in = 0
        self.n_out = 0

    def _run(self, block: np.ndarray, last: bool) -> np.ndarray:
        import numpy as np

        out = self.stream.resample_chunk(np.ascontiguousarray(block.T), last=last)
        return np.ascontiguousarray(out.reshape(-1, self.channels).T, dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += block.shape[-1]
        out = self._run(block, last=False)
        self.n_out += out.shape[-1]
        return out

    def flush(self) -> np.ndarray:
        import numpy as np

        out = self._run(_empty(self.channels), last=True)
        want = int(math.ceil(self.n_in * self.sr_out / self.sr_in)) - self.n_out
        if out.shape[-1] >= want:
            return out[:, : max(want, 0)]
        return np.pad(out, ((0, 0), (0, want - out.shape[-1])))


class SosFilter(Processor):
    """Causal Butterworth filter with its state carried across blocks."""

    def __init__(self, channels: int, kind: str, hz: float, sr: int) -> None:
        import numpy as np

        from audiokit.preprocess.steps import butter_sos

        super().__init__(channels)
        self.sos = butter_sos(kind, hz, sr)
        self.zi = np.zeros((self.sos.shape[0], channels, 2))

    def process(self, block: np.ndarray) -> np.ndarray:
        import numpy as np
        from scipy.signal import sosfilt

        out, self.zi = sosfilt(self.sos, block, axis=-1, zi=self.zi)
        return np.asarray(out, dtype=np.float32)


class Preemphasis(Processor):
    def __init__(self, channels: int, coef: float) -> None:
        import numpy as np

        super().__init__(channels)
        self.coef = np.float32(coef)
        self.last = np.zeros((channels, 1), np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        import numpy as np

        if block.shape[-1] == 0:
            return block
        prev = np.concatenate([self.last, block[:, :-1]], axis=-1)
        self.last = block[:, -1:].copy()
        return (block - self.coef * prev).astype(np.float32)


class Gain(Processor):
    def __init__(self, channels: int, db: float) -> None:
        super().__init__(channels)
        self.db = db

    def process(self, block: np.ndarray) -> np.ndarray:
        from audiokit.preprocess.loudness import apply_gain

        return apply_gain(block, self.db)


class Meter:
    """Peak, RMS and (optionally) BS.1770 loudness of a stream of blocks."""

    def __init__(self, sr: int, channels: int, loudness: bool = True) -> None:
        from audiokit.preprocess.loudness import StreamingLoudness

        self.peak = 0.0
        self.sumsq = 0.0
        self.count = 0
        self.lufs = StreamingLoudness(sr, channels) if loudness else None

    def update(self, block: np.ndarray) -> None:
        import numpy as np

        if block.size:
            self.peak = max(self.peak, float(np.max(np.abs(block))))
            self.sumsq += float(np.sum(np.square(block, dtype=np.float64)))
            self.count += block.size
        if self.lufs is not None:
            self.lufs.update(block)

    def level(self, mode: str) -> float:
        from audiokit.preprocess.loudness import db

        if mode == "peak":
            return db(self.peak)
        if mode == "rms":
            return db(math.sqrt(self.sumsq / self.count)) if self.count else -math.inf
        return self.lufs.result() if self.lufs is not None else math.nan


def build_processors(
    plan: Plan, sr: int, channels: int, steps: Iterable[str], norm_gain: float | None = None
) -> tuple[list[Processor], int, int]:
    """Processors for the block steps among ``steps``; returns them and the output rate/channels."""
    procs: list[Processor] = []
    for s in steps:
        if s not in BLOCK_STEPS:
            continue
        p: Processor
        if s == "channels":
            p = Channels(channels, plan)
            channels = 1
        elif s == "sr":
            assert plan.sr is not None
            if plan.sr == sr:
                continue
            p = Resample(channels, sr, plan.sr)
            sr = plan.sr
        elif s in ("highpass", "lowpass"):
            hz = plan.highpass if s == "highpass" else plan.lowpass
            assert hz is not None
            p = SosFilter(channels, s, hz, sr)
        elif s == "preemphasis":
            assert plan.preemphasis is not None
            p = Preemphasis(channels, plan.preemphasis)
        elif s == "gain":
            assert plan.gain_db is not None
            p = Gain(channels, plan.gain_db)
        else:  # normalize: a gain decided by the first pass
            if norm_gain is None:
                continue
            p = Gain(channels, norm_gain)
        procs.append(p)
    return procs, sr, channels


def run_blocks(procs: list[Processor], blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Push blocks through the processors, then flush them in order."""
    for b in blocks:
        for p in procs:
            if not b.shape[-1]:  # a resampler may hold a whole block back
                break
            b = p.process(b)
        if b.shape[-1]:
            yield b
    for i, p in enumerate(procs):
        tail = p.flush()
        for q in procs[i + 1 :]:
            if not tail.shape[-1]:
                break
            tail = q.process(tail)
        if tail.shape[-1]:
            yield tail


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
        from audiokit.preprocess.steps import n_samples, segment_sizes

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
        self.buf = _empty(channels)
        self.index = 0
        self.handle: int | None = None
        self.written = 0
        self.total = 0

    # -- length ops (pad-to / trim-to), applied in order
    def _length(self, block: np.ndarray, final: bool) -> np.ndarray:
        import numpy as np

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
        self._emit(self._length(_empty(self.channels), final=True), final=True)

    def _emit(self, block: np.ndarray, final: bool) -> None:
        import numpy as np

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
        from audiokit.preprocess.steps import fade

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
        import numpy as np

        from audiokit.preprocess.steps import fade_curve

        if self.handle is None:
            self.handle = self.outs.open(self.name(None))
        y = np.concatenate([self.buf, block], axis=-1) if self.buf.shape[-1] else block
        if not final:
            keep = min(self.fade, y.shape[-1])
            self.buf = y[:, y.shape[-1] - keep :].copy() if keep else _empty(self.channels)
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
    from audiokit import audio_io
    from audiokit.preprocess.loudness import decide_gain, gain_reduced_warning
    from audiokit.preprocess.output import OutputSet, output_paths, segment_path
    from audiokit.preprocess.process import finish_report, new_report

    plan = job.plan
    rep = new_report(job, inp, info, enc, streaming=True)
    sr0, ch0 = info.samplerate, info.channels

    def blocks() -> Iterator[np.ndarray]:
        for b in audio_io.iter_blocks(inp.path, job.blocksize, info, *job.span(info)):
            yield b.T

    in_meter = Meter(sr0, ch0)
    norm_gain: float | None = None
    if "normalize" in plan.steps:
        mode = plan.normalize or "peak"
        before = plan.steps[: plan.steps.index("normalize")]
        procs, sr1, ch1 = build_processors(plan, sr0, ch0, before)
        mid = Meter(sr1, ch1, loudness=mode == "loudness")
        for b in run_blocks(procs, _tee(blocks(), in_meter)):  # pass 1: measure
            mid.update(b)
        measured = mid.level(mode)
        dec = decide_gain(
            mode, measured, mid.level("peak"), plan.target_level, plan.ceiling, limit=False
        )
        norm_gain = dec.gain_db
        rep.gain_db += dec.gain_db
        if dec.gain_reduced:
            rep.gain_reduced = True
            rep.warnings.append(gain_reduced_warning(mode, dec, plan.target_level, plan.ceiling))
    if plan.gain_db is not None:
        rep.gain_db += plan.gain_db

    procs, sr, ch = build_processors(plan, sr0, ch0, plan.steps, norm_gain)
    out_meter = Meter(sr, ch)

    def name(index: int | None) -> Any:
        if job.spec.out is None:
            return Path(os.devnull)  # dry run without -o: nothing is opened for real
        if index is None:
            return output_paths(inp, job.spec, enc.ext, None)[0]
        return segment_path(inp, job.spec, enc.ext, index)

    spec = job.spec if job.spec.out is not None else _dry(job)
    with OutputSet(spec, enc, sr, ch) as outs:
        sink = Sink(plan, sr, ch, outs, name, out_meter)
        source = blocks() if norm_gain is not None else _tee(blocks(), in_meter)
        for b in run_blocks(procs, source):  # (pass 2 when normalising)
            sink.feed(b)
        sink.finish()
    if job.spec.out is not None:
        rep.outputs = [str(p) for p in outs.paths]
    rep.peak_in_dbfs = in_meter.level("peak")
    rep.lufs_in = in_meter.level("loudness")
    rep.sr_out, rep.channels_out = sr, ch
    rep.duration_out = sink.total / sr
    rep.peak_out_dbfs = out_meter.level("peak")
    rep.lufs_out = out_meter.level("loudness")
    finish_report(rep, outs)
    return rep


def _tee(blocks: Iterable[np.ndarray], meter: Meter) -> Iterator[np.ndarray]:
    for b in blocks:
        meter.update(b)
        yield b


def _dry(job: Job) -> Any:
    from dataclasses import replace

    return replace(job.spec, dry_run=True)
