"""The in-memory path: each step over the chunks, with its settings taken from the plan.

Every step's in-memory function (named by its entry in
:data:`audiokit.preprocess.registry.STEPS`) has one signature::

    fn(chunks, sr, plan, rep) -> (chunks, sr)

``chunks`` is a list of ``(channels, n)`` float32 arrays: one, or one per
segment once ``segment`` has run; ``rep`` collects gain, limiter and warnings.
Most steps map a pure function of :mod:`audiokit.preprocess.steps` over the
chunks (:func:`each`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from audiokit.dsp.levels import peak_dbfs
from audiokit.preprocess import loudness as ld
from audiokit.preprocess import steps as st
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.output import FileReport
from audiokit.preprocess.registry import step as registered

Chunks = list[np.ndarray]
StepFn = Callable[[np.ndarray, int], tuple[np.ndarray, int]]


def each(chunks: Chunks, sr: int, fn: StepFn) -> tuple[Chunks, int]:
    """``fn(y, sr) -> (y, sr)`` over every chunk; the rate it returns (``sr`` for no chunks)."""
    out = []
    new_sr = sr
    for y in chunks:
        y, new_sr = fn(y, sr)
        out.append(y)
    return out, new_sr


def channels(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    return each(chunks, sr, lambda y, r: st.select_channels(y, r, plan.mono, plan.channel))


def resample(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    target = plan.sr
    assert target is not None
    return each(chunks, sr, lambda y, r: st.resample(y, r, target))


def trim(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    return each(chunks, sr, lambda y, r: st.trim(y, r, plan.top_db, plan.pad_ms))


def remove_silence(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    return each(chunks, sr, lambda y, r: st.remove_silence(y, r, plan.top_db, plan.pad_ms))


def denoise(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    return each(chunks, sr, lambda y, r: st.denoise(y, r, plan.denoise_strength))


def highpass(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    hz = plan.highpass
    assert hz is not None
    return each(chunks, sr, lambda y, r: st.highpass(y, r, hz))


def lowpass(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    hz = plan.lowpass
    assert hz is not None
    return each(chunks, sr, lambda y, r: st.lowpass(y, r, hz))


def preemphasis(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    coef = plan.preemphasis
    assert coef is not None
    return each(chunks, sr, lambda y, r: st.preemphasis(y, r, coef))


def gain(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    db = plan.gain_db
    assert db is not None
    rep.gain_db += db
    return each(chunks, sr, lambda y, r: st.gain(y, r, db))


def normalize(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    return [normalize_chunk(y, sr, plan, rep) for y in chunks], sr


def pad_to(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    seconds = plan.pad_to
    assert seconds is not None
    return each(chunks, sr, lambda y, r: st.pad_to(y, r, seconds))


def trim_to(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    seconds = plan.trim_to
    assert seconds is not None
    return each(chunks, sr, lambda y, r: st.trim_to(y, r, seconds))


def segment(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    seconds = plan.segment
    assert seconds is not None
    return [s for y in chunks for s in st.segment(y, sr, seconds, plan.overlap)], sr


def fade(chunks: Chunks, sr: int, plan: Plan, rep: FileReport) -> tuple[Chunks, int]:
    ms = plan.fade_ms
    assert ms is not None
    return each(chunks, sr, lambda y, r: st.fade(y, r, ms))


def normalize_chunk(y: np.ndarray, sr: int, plan: Plan, rep: FileReport) -> np.ndarray:
    """``--normalize`` on one array, never past the ceiling; notes gain and warnings in ``rep``."""
    mode = plan.normalize or "peak"
    target = plan.target_level
    peak = peak_dbfs(y)
    measured = peak if mode == "peak" else ld.measure(mode, y, sr)
    dec = ld.decide_gain(mode, measured, peak, target, plan.ceiling, plan.limit)
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
    step: str, chunks: Chunks, sr: int, plan: Plan, rep: FileReport
) -> tuple[Chunks, int]:
    """Run one step (by its canonical name) over every chunk; returns the new chunks and rate."""
    fn: Callable[[Chunks, int, Plan, FileReport], tuple[Chunks, int]] = registered(step).run.get()
    return fn(chunks, sr, plan, rep)


def run_steps(
    y: np.ndarray, sr: int, plan: Plan, rep: FileReport | None = None
) -> tuple[Chunks, int]:
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
    for name in plan.steps:
        chunks, sr = apply_step(name, chunks, sr, plan, rep)
    return chunks, sr
