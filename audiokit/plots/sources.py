"""What to draw from a file: the time span, the channels (lanes), and reading them.

Built on :mod:`audiokit.audio_io` (the only module that decodes audio):
:func:`iter_lanes` streams a span block by block as ``(lanes, n)`` arrays,
:func:`read_lanes` reads a span whole (for the kinds that need it in memory,
with a size guard).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from audiokit import audio_io
from audiokit.audio_io import MIX, AudioInfo, parse_channel  # noqa: F401 (re-exported)
from audiokit.errors import InputError

#: Kinds that need the whole span in memory refuse spans longer than this (seconds).
MAX_IN_MEMORY_SECONDS = 1800.0

#: Frames decoded per block when streaming.
BLOCK = 1 << 17


@dataclass(frozen=True)
class Span:
    """A frame range of a file and the lanes drawn from it.

    Attributes
    ----------
    start, stop : int
        Frame range ``[start, stop)``.
    sr : int
        Sample rate in Hz.
    channels : tuple of int
        Channels drawn, one lane each; empty for a mono mix of all channels.
    file_channels : int
        Channels in the file.
    """

    start: int
    stop: int
    sr: int
    channels: tuple[int, ...]
    file_channels: int

    @property
    def frames(self) -> int:
        return self.stop - self.start

    @property
    def offset(self) -> float:
        """Start time in seconds."""
        return self.start / self.sr

    @property
    def duration(self) -> float:
        return self.frames / self.sr

    @property
    def lanes(self) -> int:
        return max(1, len(self.channels))

    def lane_names(self) -> list[str]:
        """Labels of the lanes (``L``/``R`` for stereo, ``ch N`` otherwise, ``mix``)."""
        if not self.channels:
            return ["mix" if self.file_channels > 1 else ""]
        if self.file_channels == 2:
            return ["L" if c == 0 else "R" for c in self.channels]
        return [f"ch {c}" if self.file_channels > 1 else "" for c in self.channels]


def resolve_span(
    info: AudioInfo,
    start: float = 0.0,
    duration: float | None = None,
    channel: int | str | None = None,
) -> Span:
    """Turn ``--start``/``--duration``/``--channel`` into a :class:`Span` for one file.

    Parameters
    ----------
    info
        The file's header.
    start, duration
        Seconds; ``duration=None`` draws to the end.
    channel
        None: one lane per channel; an int: that channel only (0-based);
        ``"mix"``: the mean of all channels.

    Raises
    ------
    InputError
        The start is past the end of the file, or the channel does not exist.
    """
    sr = info.samplerate
    first = int(round(max(start, 0.0) * sr))
    if first >= info.frames:
        raise InputError(
            f"--start {start:g} s is past the end of the file ({info.duration:.3f} s)", info.path
        )
    stop = info.frames if duration is None else min(info.frames, first + int(round(duration * sr)))
    if stop - first < 2:
        raise InputError("the span to draw holds fewer than 2 samples", info.path)
    if channel is None:
        chans: tuple[int, ...] = tuple(range(info.channels))
    elif channel == MIX:
        chans = () if info.channels > 1 else (0,)
    else:
        c = int(channel)
        if not 0 <= c < info.channels:
            raise InputError(
                f"no channel {c} (the file has {info.channels}; channels count from 0)", info.path
            )
        chans = (c,)
    return Span(first, stop, sr, chans, info.channels)


def _select(block: np.ndarray, span: Span) -> np.ndarray:
    """``(frames, channels)`` block -> ``(lanes, frames)`` float32."""

    if not span.channels:
        return np.ascontiguousarray(block.mean(axis=1, dtype=np.float32)[None, :])
    return np.ascontiguousarray(block[:, list(span.channels)].T)


def iter_lanes(
    path: str | os.PathLike[str], info: AudioInfo, span: Span, blocksize: int = BLOCK
) -> Iterator[np.ndarray]:
    """Stream the span as ``(lanes, n)`` float32 blocks, in bounded memory."""
    for block in audio_io.iter_blocks(path, blocksize, info, span.start, span.stop):
        yield _select(block, span)


def read_lanes(
    path: str | os.PathLike[str],
    info: AudioInfo,
    span: Span,
    what: str,
    max_seconds: float = MAX_IN_MEMORY_SECONDS,
) -> np.ndarray:
    """Read the whole span, shape ``(lanes, n)``.

    Raises
    ------
    InputError
        The span is longer than ``max_seconds`` (``what`` names the picture).
    """

    if span.duration > max_seconds:
        raise InputError(
            f"{what} needs the span in memory: {span.duration:.0f} s is more than "
            f"{max_seconds:.0f} s (use --start/--duration)",
            info.path,
        )
    y, _ = audio_io.read(path, info, offset=span.start / span.sr, duration=span.duration)
    y = y[:, : span.frames]
    if not span.channels:
        return np.ascontiguousarray(y.mean(axis=0, dtype=np.float32)[None, :])
    return np.ascontiguousarray(y[list(span.channels)])
