"""What a worker needs to preprocess any input of a batch (:class:`Job`), and its report's start.

Shared by the in-memory path (:mod:`audiokit.preprocess.process`) and the
streaming path (:mod:`audiokit.preprocess.streaming`), so that neither imports
the other's module for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from audiokit.audio_io import AudioInfo, span_frames
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.output import Encoding, FileReport, OutputSet, OutputSpec

#: Files longer than this (s) go through the streaming path when the plan allows it.
LONG_SECONDS = 600.0
#: Frames per block on the streaming path.
BLOCKSIZE = 1 << 16
STREAMING_MODES = ("auto", "on", "off")
#: Float copies of the signal the in-memory path holds at its peak (input, steps, output).
IN_MEMORY_COPIES = 8


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
    start, duration : float, float or None
        The span of each input (``--start``/``--duration``, seconds).
    measure_output : bool
        Measure the output's loudness (``lufs_out``); False leaves it None, saving a
        BS.1770 pass over every output (the CLI asks only for ``--measure-output``
        and ``--normalize loudness``).
    threads : int
        Threads one file may use on the streaming path (the CLI gives 2 when one
        worker runs alone on a machine with more cores: a batch keeps every core busy
        with processes).
    """

    plan: Plan
    spec: OutputSpec
    streaming: str = "auto"
    long_seconds: float = LONG_SECONDS
    blocksize: int = BLOCKSIZE
    start: float = 0.0
    duration: float | None = None
    measure_output: bool = True
    threads: int = 1

    def span_seconds(self, info: AudioInfo) -> float:
        first, last = self.span(info)
        return (last - first) / info.samplerate

    def span(self, info: AudioInfo) -> tuple[int, int]:
        """The frames of each input to process (``--start``/``--duration``)."""
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


def estimate_memory(job: Job, info: AudioInfo) -> float:
    """Peak bytes of preprocessing this input, about (bounded when it streams)."""
    if job.use_streaming(info):
        return float(64 * 2**20 + job.blocksize * info.channels * 4 * IN_MEMORY_COPIES)
    rate = max(info.samplerate, job.plan.sr or 0)
    seconds = max(info.duration, job.plan.pad_to or 0.0)
    return float(200 * 2**20 + seconds * rate * info.channels * 4 * IN_MEMORY_COPIES)


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


def finish_report(rep: FileReport, outs: OutputSet) -> None:
    """Note clipped samples (only when the steps asked for more than full scale) and notes."""
    rep.clipped_samples = outs.clipped
    if outs.clipped:
        rep.warnings.append(f"{outs.clipped} sample(s) clipped at full scale when encoding")
    rep.warnings.extend(outs.notes)
