"""The blockable steps as block processors: one code path for in memory and streaming.

A :class:`Processor` takes consecutive ``(channels, frames)`` float32 blocks
with its state carried across them (soxr's ``ResampleStream``, the filter
state of the Butterworth sections and of the pre-emphasis), and ``flush``
returns what it still holds. The streaming path pushes a file's blocks
through them (:func:`run_blocks`); the in-memory steps of
:mod:`audiokit.preprocess.steps` push the whole signal as one block
(:func:`whole`), so a file's output never depends on which path processed it.

Each processor has a factory ``from_plan(channels, sr, plan, norm_gain)``
named by its step in :data:`audiokit.preprocess.registry.STEPS`; it returns
None when the step has nothing to do for this stream.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import numpy as np
import soxr

from audiokit.dsp import effects
from audiokit.errors import InputError
from audiokit.preprocess.chain import Plan
from audiokit.preprocess.loudness import apply_gain
from audiokit.sosfilt import sosfilt

#: Order of the Butterworth high-pass and low-pass filters.
FILTER_ORDER = 4


def empty(channels: int) -> np.ndarray:
    """A ``(channels, 0)`` float32 block."""
    return np.zeros((channels, 0), np.float32)


class Processor:
    """A step over consecutive ``(channels, frames)`` blocks; ``flush`` returns what it held.

    Attributes
    ----------
    channels : int
        Channels of the blocks it takes.
    out_channels, out_sr : int or None
        Of the blocks it gives (None: as it takes them).
    """

    out_channels: int | None = None
    out_sr: int | None = None

    def __init__(self, channels: int) -> None:
        self.channels = channels

    def process(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def flush(self) -> np.ndarray:
        return empty(self.out_channels or self.channels)

    def whole(self, y: np.ndarray) -> np.ndarray:
        """``y`` as one block, then the flush: what :func:`run_blocks` gives for it.

        Returns the processor's own output when it holds nothing back (no copy).
        """
        out = self.process(y)
        tail = self.flush()
        return np.concatenate([out, tail], axis=-1) if tail.shape[-1] else out


class Channels(Processor):
    """Mix to mono (average) or keep one channel (0 = first/left); other blocks pass as they are."""

    def __init__(self, channels: int, mono: bool = False, channel: int | None = None) -> None:
        super().__init__(channels)
        self.mono, self.channel = mono, channel
        self.out_channels = 1 if channel is not None or (mono and channels > 1) else channels

    @classmethod
    def from_plan(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> Channels:
        return cls(channels, plan.mono, plan.channel)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Raises InputError when the channel asked for is not there."""
        if self.channel is not None:
            if self.channel >= block.shape[0]:
                raise InputError(
                    f"has {block.shape[0]} channel(s): there is no channel {self.channel}"
                )
            return np.ascontiguousarray(block[self.channel : self.channel + 1], dtype=np.float32)
        if self.mono and block.shape[0] > 1:
            return block.mean(axis=0, keepdims=True, dtype="float64").astype(np.float32)
        return block


class Resample(Processor):
    """soxr HQ ``ResampleStream``, cut or padded to ``ceil(n_in * sr_out / sr_in)`` at the end.

    Fed one block, it gives what ``soxr.resample`` gives (the tests check it).
    """

    def __init__(self, channels: int, sr_in: int, sr_out: int) -> None:
        super().__init__(channels)
        self.sr_in, self.out_sr = sr_in, sr_out
        self.stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality="HQ")
        self.n_in = 0
        self.n_out = 0

    @classmethod
    def from_plan(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> Resample | None:
        assert plan.sr is not None
        return None if plan.sr == sr else cls(channels, sr, plan.sr)

    def _run(self, block: np.ndarray, last: bool) -> np.ndarray:
        out = self.stream.resample_chunk(np.ascontiguousarray(block.T), last=last)
        return np.ascontiguousarray(out.reshape(-1, self.channels).T, dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        self.n_in += block.shape[-1]
        out = self._run(block, last=False)
        self.n_out += out.shape[-1]
        return out

    def flush(self) -> np.ndarray:
        assert self.out_sr is not None
        out = self._run(empty(self.channels), last=True)
        want = int(math.ceil(self.n_in * self.out_sr / self.sr_in)) - self.n_out
        return _fit(out, want)

    def whole(self, y: np.ndarray) -> np.ndarray:
        """The whole signal through ``soxr.resample`` (its samples are the stream's, bit
        for bit, whatever the blocks: tested), a quarter faster than the stream for a clip."""
        assert self.out_sr is not None
        out = soxr.resample(y.T, self.sr_in, self.out_sr, quality="HQ")
        out = np.ascontiguousarray(out.reshape(-1, self.channels).T, dtype=np.float32)
        return _fit(out, int(math.ceil(y.shape[-1] * self.out_sr / self.sr_in)))


def _fit(out: np.ndarray, want: int) -> np.ndarray:
    """``out`` (channels, n) cut or zero-padded to ``want`` frames."""
    if out.shape[-1] >= want:
        return out[:, : max(want, 0)]
    return np.pad(out, ((0, 0), (0, want - out.shape[-1])))


def butter_sos(kind: str, hz: float, sr: int, order: int = FILTER_ORDER) -> np.ndarray:
    """Butterworth second-order sections for ``highpass``/``lowpass`` at ``hz``.

    Returns
    -------
    np.ndarray, shape (order // 2, 6)

    Raises
    ------
    InputError
        The cutoff is not below the Nyquist frequency of this signal.
    """
    # scipy.signal takes 0.8 s to import (see audiokit.sosfilt): only filtering plans pay it.
    from scipy.signal import butter

    if not 0 < hz < sr / 2:
        raise InputError(f"--{kind} {hz:g} Hz must be below the Nyquist frequency ({sr / 2:g} Hz)")
    sos: np.ndarray = butter(order, hz, btype=kind, fs=sr, output="sos")
    return sos


class SosFilter(Processor):
    """Causal Butterworth filter (state at rest at the start) carried across blocks."""

    def __init__(self, channels: int, kind: str, hz: float, sr: int) -> None:
        super().__init__(channels)
        self.sos = butter_sos(kind, hz, sr)
        self.zi = np.zeros((self.sos.shape[0], channels, 2))

    @classmethod
    def highpass(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> SosFilter:
        assert plan.highpass is not None
        return cls(channels, "highpass", plan.highpass, sr)

    @classmethod
    def lowpass(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> SosFilter:
        assert plan.lowpass is not None
        return cls(channels, "lowpass", plan.lowpass, sr)

    def process(self, block: np.ndarray) -> np.ndarray:
        out, self.zi = sosfilt(self.sos, block, axis=-1, zi=self.zi)
        return np.asarray(out, dtype=np.float32)


class Preemphasis(Processor):
    """:func:`audiokit.dsp.effects.preemphasis` with its state carried across blocks.

    The first sample follows librosa's rule (``zi = 2*y[0] - y[1]``; a first block
    of one sample waits for the second), each later block starts from the
    previous block's final state: any blocks give the samples of the whole signal.
    """

    def __init__(self, channels: int, coef: float) -> None:
        super().__init__(channels)
        self.coef = coef
        self.zi: np.ndarray | None = None
        self.head = empty(channels)  # the first sample, until the second arrives

    @classmethod
    def from_plan(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> Preemphasis:
        assert plan.preemphasis is not None
        return cls(channels, plan.preemphasis)

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.zi is None and self.head.shape[-1] + block.shape[-1] < 2:
            self.head = np.concatenate([self.head, block], axis=-1)
            return empty(self.channels)
        if self.head.shape[-1]:
            block = np.concatenate([self.head, block], axis=-1)
            self.head = empty(self.channels)
        out, self.zi = effects.preemphasis(block, coef=self.coef, zi=self.zi, return_zf=True)
        return out

    def flush(self) -> np.ndarray:
        if not self.head.shape[-1]:  # a signal of one sample
            return empty(self.channels)
        out, self.zi = effects.preemphasis(self.head, coef=self.coef, return_zf=True)
        self.head = empty(self.channels)
        return out


class Gain(Processor):
    """Multiply by ``10^(db/20)`` (float32)."""

    def __init__(self, channels: int, db: float) -> None:
        super().__init__(channels)
        self.db = db

    @classmethod
    def from_plan(cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None) -> Gain:
        assert plan.gain_db is not None
        return cls(channels, plan.gain_db)

    @classmethod
    def normalized(
        cls, channels: int, sr: int, plan: Plan, norm_gain: float | None = None
    ) -> Gain | None:
        """``--normalize``'s gain, decided by the first (measuring) pass; None during it."""
        return None if norm_gain is None else cls(channels, norm_gain)

    def process(self, block: np.ndarray) -> np.ndarray:
        return apply_gain(block, self.db)


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


def whole(proc: Processor, y: np.ndarray) -> np.ndarray:
    """``y`` (channels, n) pushed through ``proc`` as one block: the in-memory form of its step.

    :meth:`Processor.whole`: the samples :func:`run_blocks` gives for a one-block
    stream (a processor may get them in one call: :meth:`Resample.whole`).
    """
    return proc.whole(y)
