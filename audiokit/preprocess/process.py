"""Preprocess one file: pick the path (in memory or streaming), run the plan, write, report.

:func:`preprocess_file` is what the batch task calls. The in-memory path
decodes the whole file and runs the plan's steps in order
(:func:`audiokit.preprocess.apply.run_steps`) over a list of arrays (one array,
or one per segment once ``segment`` has run). The streaming path
(:mod:`audiokit.preprocess.streaming`) is chosen for long files (over
:data:`~audiokit.preprocess.job.LONG_SECONDS`) when every enabled step can run
block by block.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from audiokit import audio_io, heap
from audiokit.audio_io import AudioInfo
from audiokit.bs1770 import integrated_loudness
from audiokit.dsp.levels import peak_dbfs
from audiokit.inputs import Input
from audiokit.preprocess import steps
from audiokit.preprocess.apply import apply_step, run_steps
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.job import Job, estimate_memory, finish_report, new_report
from audiokit.preprocess.output import (
    Encoding,
    FileReport,
    OutputSet,
    OutputSpec,
    output_paths,
    resolve_encoding,
)
from audiokit.preprocess.streaming import process_streaming
from audiokit.sosfilt import _kernel
from audiokit.warmup import probe_signal

#: Steps that call librosa (and so its numba kernels).
LIBROSA_STEPS = ("trim", "remove-silence", "denoise")
#: Rate of the warm-up probe.
PROBE_SR = 22050


def batch_warm_up(plan: Plan) -> Callable[[], None] | None:
    """Prepare this process for ``plan`` now; returns the warm-up ``batch.run`` needs.

    None when no step calls librosa: there is nothing to compile, so the run does
    not wait for the compile lock that another audiokit process (a ``features``
    run, say) may hold for a minute.
    """
    if set(LIBROSA_STEPS) & set(plan.steps):
        return functools.partial(warm_up, plan)
    warm_up(plan)
    return None


def warm_up(plan: Plan) -> None:
    """Prepare this process for forking the workers that will run ``plan``.

    The modules they need are imported with this one; what only some plans need is
    imported here, so that forked workers share it instead of each paying for it
    (scipy.signal: over a second on a busy machine), and
    runs the librosa steps once on a probe signal so that they inherit its
    compiled kernels (see :mod:`audiokit.warmup`).
    """

    # Freed blocks and clips stay in the heap for the next one instead of being faulted
    # in again (a third of a clip's CPU time went to page faults).
    heap.keep_freed_memory()
    _kernel()  # the loudness filter
    if {"highpass", "lowpass"} & set(plan.steps):
        import scipy.signal  # noqa: F401  (filter design: over half a second to import)

    if not set(LIBROSA_STEPS) & set(plan.steps):
        return
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
    info = audio_io.probe(inp.path)
    # Steps that would change nothing for this input are dropped: its samples then pass
    # bit for bit, without dither.
    job = replace(job, plan=job.plan.for_input(info.samplerate, info.channels))
    enc = resolve_encoding(job.spec, info, job.plan.exact)
    segmented = "segment" in job.plan.steps
    if job.spec.out is not None:
        _precheck(job.spec, enc, inp, segmented)
    if job.use_streaming(info):
        return process_streaming(job, inp, info, enc)
    return _process_in_memory(job, inp, info, enc)


def _precheck(spec: OutputSpec, enc: Encoding, inp: Input, segmented: bool) -> None:
    """Fail before any work when the (first) output is an input or already exists."""
    if spec.out is None or spec.dry_run:
        return
    first = output_paths(inp, spec, enc.ext, 1 if segmented else None)[0]
    with OutputSet(spec, enc, 1, 1) as outs:
        outs.check(first)


def _process_in_memory(job: Job, inp: Input, info: AudioInfo, enc: Encoding) -> FileReport:
    rep = new_report(job, inp, info, enc, streaming=False)
    y, sr = audio_io.read(inp.path, info, offset=job.start, duration=job.duration)
    rep.peak_in_dbfs = peak_dbfs(y)
    rep.lufs_in = integrated_loudness(y, sr)
    chunks, sr = run_steps(y, sr, job.plan, rep)
    del y
    whole = chunks[0] if len(chunks) == 1 else np.concatenate(chunks, axis=-1)
    rep.sr_out = sr
    rep.channels_out = int(whole.shape[0])
    rep.duration_out = whole.shape[-1] / sr
    rep.peak_out_dbfs = peak_dbfs(whole)
    rep.lufs_out = integrated_loudness(whole, sr) if job.measure_output else None
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


__all__ = [
    "Job",
    "batch_warm_up",
    "OutputSpec",
    "apply_step",
    "estimate_memory",
    "preprocess_file",
    "run_steps",
    "warm_up",
]
