"""Audio features for machine learning: one spectrogram per file, many features, one table.

The public API::

    from audiokit.features import extract, extract_file, FeatureParams

    res = extract(y, sr)                       # one summary row (mean/std/min/max)
    res = extract(y, sr, frames=True)          # one row per frame
    res = extract(y, sr, window=2.0)           # one row per 2-second window
    res.columns, res.values                    # names, (rows, columns) float32

Every STFT-based feature comes from a single STFT per block of frames (see
:mod:`audiokit.features.groups`); long inputs are processed in blocks with
bounded memory (:mod:`audiokit.features.blocks`); statistics are streamed
(:mod:`audiokit.features.stats`); column names are in
:mod:`audiokit.features.schema`.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from audiokit import audio_io, warmup
from audiokit.audio_io import to_mono
from audiokit.columns import ColumnBatch, Constant
from audiokit.errors import UsageError
from audiokit.features import blocks, groups, stats
from audiokit.features.blocks import ArraySource, StreamSource
from audiokit.features.schema import (
    DEFAULT_GROUPS,
    DEFAULT_STATS,
    GROUP_HELP,
    GROUPS,
    FeatureParams,
    frame_columns,
    parse_groups,
    parse_stats,
    summary_columns,
)
from audiokit.features.warm import warm_up

if TYPE_CHECKING:
    from audiokit.columns import ColumnBatch
    from audiokit.features.blocks import Source

__all__ = [
    "DEFAULT_GROUPS",
    "DEFAULT_STATS",
    "GROUPS",
    "GROUP_HELP",
    "FeatureParams",
    "FeatureResult",
    "extract",
    "extract_channels",
    "extract_file",
    "frame_columns",
    "parse_groups",
    "parse_stats",
    "summary_columns",
    "warm_up",
]

#: Files longer than this many samples (at the target rate) are decoded block by block.
STREAM_SAMPLES = 8 * 2**20


@dataclass
class FeatureResult:
    """Features of one signal, as a table.

    Attributes
    ----------
    kind : str
        ``summary`` (one row), ``frames`` (one row per frame) or ``windows``.
    sr : int
        Sample rate the features were computed at.
    duration : float
        Duration of the signal in seconds.
    n_frames : int
        STFT frames (``1 + n // hop_length``).
    columns : list of str
        Feature column names (:func:`schema.summary_columns` or :func:`schema.frame_columns`).
    values : np.ndarray, shape (n_rows, n_columns), float32
    start, end : np.ndarray, shape (n_rows,), float64
        Seconds: the window bounds; a frame's centre time (both); ``0`` and the
        duration for a summary.
    params : FeatureParams
    channel : int or None
        The channel these features are of (None: the channels mixed to mono).
    """

    kind: str
    sr: int
    duration: float
    n_frames: int
    columns: list[str]
    values: np.ndarray
    start: np.ndarray
    end: np.ndarray
    params: FeatureParams = field(default_factory=FeatureParams)
    channel: int | None = None

    def column(self, name: str) -> np.ndarray:
        """One column, shape (n_rows,)."""
        return self.values[:, self.columns.index(name)]

    def column_batch(
        self, prefix: dict[str, Any] | None = None, start: int = 0, stop: int | None = None
    ) -> ColumnBatch:
        """Rows ``start..stop`` as columns: the rows of :meth:`rows`, without a dict per row.

        ``prefix`` values become constant columns; the index columns are arrays
        (``frame`` int64 and ``time`` float64 for frames; ``segment`` int64, ``start``
        and ``end`` float64 for windows); each feature column is a view of
        ``values[start:stop, j]`` (float32, no copy).

        Returns
        -------
        ColumnBatch of shape (stop - start rows, len(prefix) + index + n_columns columns)
        """

        first, last, _ = slice(start, stop).indices(self.values.shape[0])
        last = max(first, last)
        cols: dict[str, Any] = {k: Constant(v) for k, v in (prefix or {}).items()}
        if self.kind == "frames":
            cols["frame"] = np.arange(first, last, dtype=np.int64)
            cols["time"] = np.asarray(self.start[first:last], dtype=np.float64)
        elif self.kind == "windows":
            cols["segment"] = np.arange(first, last, dtype=np.int64)
            cols["start"] = np.asarray(self.start[first:last], dtype=np.float64)
            cols["end"] = np.asarray(self.end[first:last], dtype=np.float64)
        block = self.values[first:last]
        cols.update(zip(self.columns, block.T, strict=True))  # column views, no copies
        return ColumnBatch.of(cols, last - first)

    def rows(
        self, prefix: dict[str, Any] | None = None, start: int = 0, stop: int | None = None
    ) -> list[dict[str, Any]]:
        """Rows ``start..stop`` as dicts: ``prefix`` columns, the index columns, the features.

        Index columns: ``frame`` and ``time`` for frames, ``window``, ``start`` and
        ``end`` for windows, none for a summary.
        """
        prefix = prefix or {}
        vals = self.values[start:stop].tolist()
        out = []
        for i, row in enumerate(vals, start):
            r: dict[str, Any] = dict(prefix)
            if self.kind == "frames":
                r["frame"] = i
                r["time"] = float(self.start[i])
            elif self.kind == "windows":
                r["segment"] = i
                r["start"] = float(self.start[i])
                r["end"] = float(self.end[i])
            r.update(zip(self.columns, row, strict=True))
            out.append(r)
        return out


def _params(**kw: Any) -> FeatureParams:
    groups = kw.pop("groups", None)
    stats = kw.pop("stats", None)
    if isinstance(groups, str) or groups is None:
        groups = parse_groups(groups)
    if isinstance(stats, str) or stats is None:
        stats = parse_stats(stats)
    return FeatureParams(groups=tuple(groups), stats=tuple(stats), **kw)


def extract(
    y: np.ndarray,
    sr: int,
    groups: str | tuple[str, ...] | None = None,
    *,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    n_mfcc: int = 13,
    fmin: float = 0.0,
    fmax: float | None = None,
    stats: str | tuple[str, ...] | None = None,
    frames: bool = False,
    window: float | None = None,
    window_hop: float | None = None,
    block_frames: int | None = None,
    jobs: int = 1,
    frame_local: bool = False,
) -> FeatureResult:
    """Extract features from a signal in memory.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
        Audio (multichannel input is averaged to mono).
    sr : int
        Its sample rate (no resampling is done here).
    groups
        Feature groups (``"mfcc,chroma"``, ``"default,hpss"``, ``"all"`` or a tuple);
        default :data:`DEFAULT_GROUPS`.
    n_fft, hop_length, n_mels, n_mfcc, fmin, fmax
        Analysis parameters (see :class:`FeatureParams`).
    stats
        Summary statistics (default mean, std, min, max; also median, pNN).
    frames
        One row per frame instead of a summary.
    window, window_hop
        One row of statistics per window of ``window`` seconds every
        ``window_hop`` seconds (default: ``window``, no overlap).
    block_frames
        Process in blocks of this many frames (default 4096); results do not
        depend on it (exactly for STFT groups, within tolerance for CQT/pYIN).
    jobs
        Processes computing blocks in parallel (useful for long signals only).
    frame_local
        Each frame from its neighbourhood only (fixed -100 dB floor, A440 chroma; see
        :class:`FeatureParams`) instead of librosa's whole-signal defaults.

    Returns
    -------
    FeatureResult
    """

    p = _params(
        groups=groups,
        sr=sr,
        n_fft=n_fft,
        hop_length=hop_length,
        n_mels=n_mels,
        n_mfcc=n_mfcc,
        fmin=fmin,
        fmax=fmax,
        stats=stats,
        frame_local=frame_local,
    )
    y = np.ascontiguousarray(to_mono(np.asarray(y, dtype=np.float32)))
    if y.ndim != 1 or len(y) == 0:
        raise UsageError("y must be a non-empty 1-D or 2-D array")
    return _run(ArraySource(y), int(sr), p, frames, window, window_hop, block_frames, jobs)


def extract_file(
    path: str | os.PathLike[str],
    params: FeatureParams | None = None,
    *,
    frames: bool = False,
    window: float | None = None,
    window_hop: float | None = None,
    block_frames: int | None = None,
    jobs: int = 1,
    start: float = 0.0,
    duration: float | None = None,
    channel: int | None = None,
) -> FeatureResult:
    """Extract features from an audio file, decoding long files block by block.

    The file is mixed to mono (or ``channel`` is taken alone) and resampled to
    ``params.sr`` (None: its own rate) with soxr HQ, as :func:`audiokit.audio_io.load`.
    Files of more than :data:`STREAM_SAMPLES` samples are never loaded whole. ``frames``,
    ``window``, ``window_hop``, ``block_frames`` and ``jobs`` are as in :func:`extract`;
    ``start`` and ``duration`` (seconds) take a span of the file, as librosa.load's
    ``offset`` and ``duration`` do.

    Raises
    ------
    audiokit.errors.DecodeError, audiokit.errors.InputError
        The file cannot be read.
    """

    p = params or FeatureParams()
    ((sr, source),) = _sources(path, p, start, duration, [channel])
    res = _run(source, sr, replace(p, sr=p.sr), frames, window, window_hop, block_frames, jobs)
    res.channel = channel
    return res


def extract_channels(
    path: str | os.PathLike[str],
    params: FeatureParams | None = None,
    *,
    frames: bool = False,
    window: float | None = None,
    window_hop: float | None = None,
    block_frames: int | None = None,
    jobs: int = 1,
    start: float = 0.0,
    duration: float | None = None,
) -> list[FeatureResult]:
    """Features of each channel of a file, separately (``audiokit features --per-channel``).

    Arguments are those of :func:`extract_file`. A file short enough to be loaded is
    decoded once; a long one is streamed once per channel (memory stays bounded).

    Returns
    -------
    list of FeatureResult, one per channel in order (``channel`` 0, 1, ...)
    """

    p = params or FeatureParams()
    info = audio_io.probe(path)
    out = []
    for c, (sr, source) in enumerate(_sources(path, p, start, duration, range(info.channels))):
        res = _run(source, sr, replace(p, sr=p.sr), frames, window, window_hop, block_frames, jobs)
        res.channel = c
        out.append(res)
    return out


def _sources(
    path: str | os.PathLike[str],
    p: FeatureParams,
    start: float,
    duration: float | None,
    channels: Iterable[int | None],
) -> Iterator[tuple[int, Source]]:
    """(sample rate, samples) of each of ``channels`` (None: the mix) of a file's span.

    A span of more than :data:`STREAM_SAMPLES` samples at the target rate is streamed (a
    :class:`StreamSource` per channel, each decoding the file); a shorter one is decoded
    once and each channel taken from it (an :class:`ArraySource`).
    """
    info = audio_io.probe(path)
    sr = p.sr or info.samplerate
    first, last = audio_io.span_frames(info, start, duration)
    if (last - first) * sr / info.samplerate > STREAM_SAMPLES:
        for c in channels:
            yield sr, StreamSource(str(path), sr, first=first, last=last, channel=c)
        return
    y, native = audio_io.read(path, info, offset=start, duration=duration)
    for c in channels:
        yield sr, ArraySource(audio_io.resample(_channel(y, c), native, sr))


def _channel(y: np.ndarray, channel: int | None) -> np.ndarray:
    """``y`` (shape (n,) or (channels, n)) mixed to mono (None) or its ``channel``."""
    if channel is None:
        return audio_io.to_mono(y)
    if y.ndim == 1:
        if channel != 0:
            raise UsageError(f"channel {channel}: the signal has 1 channel")
        return y
    return np.ascontiguousarray(y[channel])


def _run(
    source: Source,
    sr: int,
    p: FeatureParams,
    frames: bool,
    window: float | None,
    window_hop: float | None,
    block_frames: int | None,
    jobs: int = 1,
) -> FeatureResult:

    if frames and window:
        raise UsageError("--frames and --segment exclude each other")
    if window is not None and window <= 0:
        raise UsageError("--segment must be positive")
    if window_hop is not None and (window is None or window_hop <= 0):
        raise UsageError("a segment hop needs --segment and must be positive")
    n_frames = groups.n_frames_for(source.n, p)
    duration = source.n / sr
    n_cols = len(frame_columns(p))
    kept: list[np.ndarray] = []
    bounds = (
        stats.window_bounds(duration, n_frames, sr, p.hop_length, window, window_hop or window)
        if window
        else [(0.0, duration, 0, n_frames)]
    )
    summary = stats.Summary(n_cols, p.stats, n_frames) if not frames and not window else None
    windows = stats.Windows(n_cols, p.stats, bounds) if window else None
    reducers = groups.reducers(p, sr) if not frames else {}
    block_frames = block_frames or blocks.BLOCK_FRAMES
    if jobs > 1 and blocks.n_blocks(source, p, block_frames) > 1:
        # librosa's kernels compiled once here, before the block workers are forked
        warmup.run(functools.partial(warm_up, p, sr))
    for _, bf in blocks.iter_blocks(source, sr, p, block_frames, jobs):
        if frames:
            kept.append(bf.values)
        elif summary is not None:
            summary.add(bf.values)
        elif windows is not None:
            windows.add(bf.values)
        for reducer in reducers.values():
            reducer.add(bf.hidden)
    if frames:
        values = np.hstack(kept).T if kept else np.zeros((0, n_cols), np.float32)
        t = np.arange(values.shape[0]) * p.hop_length / sr
        return FeatureResult(
            "frames",
            sr,
            duration,
            n_frames,
            frame_columns(p),
            np.ascontiguousarray(values, dtype=np.float32),
            t,
            t,
            p,
        )
    feats = summary.result()[None] if summary is not None else windows.finish()  # type: ignore[union-attr]
    scal = _scalars(reducers, [(lo, hi) for _, _, lo, hi in bounds])
    values = np.hstack([feats, scal]).astype(np.float32)
    return FeatureResult(
        "windows" if window else "summary",
        sr,
        duration,
        n_frames,
        summary_columns(p),
        values,
        np.array([b[0] for b in bounds]),
        np.array([b[1] for b in bounds]),
        p,
    )


def _scalars(reducers: dict[str, Any], ranges: list[tuple[int, int]]) -> np.ndarray:
    """Per-file or per-window scalar columns, shape (len(ranges), n_scalars), in column order.

    ``reducers``: the groups' :class:`audiokit.features.scalars.Reducer` objects, fed.
    """

    parts = [r.values(ranges) for r in reducers.values()]
    return np.hstack(parts) if parts else np.zeros((len(ranges), 0))
