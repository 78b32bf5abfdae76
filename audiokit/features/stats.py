"""Statistics over frames: whole-file summaries in streaming fashion, and windows.

Mean, standard deviation (population, ``ddof=0``), min and max are exact and
accumulated block by block (Chan's pairwise update in float64), so memory does
not depend on the duration. Median and percentiles need every value: frames
are kept as float32, in memory up to :data:`MEMORY_BUDGET` bytes and beyond
that appended block by block to a temporary file (plain writes, not a memory
map, so they do not count in the process's memory), then read back and
reduced one column at a time.
NaN values (unvoiced f0, deltas of clips under 3 frames) are ignored; a
column with no finite value gives NaN.
"""

from __future__ import annotations

import math
import os
import tempfile
from typing import Any

import numpy as np

from audiokit.features.schema import parse_stat
from audiokit.output.files import scratch_name, sweep_scratch

#: Bytes of frame values kept in memory for medians/percentiles before spilling to disk.
MEMORY_BUDGET = 128 * 2**20


def _needs_values(stats: tuple[str, ...]) -> bool:
    return any(parse_stat(s) is not None for s in stats)


class Summary:
    """Streaming statistics of ``n_cols`` frame-level columns.

    Parameters
    ----------
    n_cols : int
    stats : tuple of str
        Statistic names (see :func:`schema.parse_stat`).
    n_frames : int
        Upper bound of the frames that will be added (sizes the value store).
    """

    def __init__(self, n_cols: int, stats: tuple[str, ...], n_frames: int) -> None:
        self.stats = stats
        self.n_cols = n_cols
        self.count = np.zeros(n_cols)
        self.mean = np.zeros(n_cols)
        self.m2 = np.zeros(n_cols)
        self.min = np.full(n_cols, np.inf)
        self.max = np.full(n_cols, -np.inf)
        self.filled = 0
        self.store: Any = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._file: Any = None
        self._blocks: list[tuple[int, int]] = []  # (byte offset, frames) in the spill file
        if _needs_values(stats):
            if n_cols * n_frames * 4 <= MEMORY_BUDGET:
                self.store = np.empty((n_cols, n_frames), np.float32)
            else:
                sweep_scratch(tempfile.gettempdir())  # spills of killed runs
                self._tmp = tempfile.TemporaryDirectory(prefix=scratch_name("features"))
                self._file = open(os.path.join(self._tmp.name, "frames.f32"), "w+b")

    def add(self, values: np.ndarray) -> None:
        """Add frames, shape (n_cols, n)."""

        n = values.shape[1]
        if n == 0:
            return
        if self.store is not None:
            self.store[:, self.filled : self.filled + n] = values
        elif self._file is not None:
            self._blocks.append((self._file.tell(), n))
            np.ascontiguousarray(values, dtype=np.float32).tofile(self._file)
        self.filled += n
        v = values.astype(np.float64)
        finite = np.isfinite(v)
        if finite.all():
            nb = np.full(self.n_cols, float(n))
            mb = v.mean(axis=1)
            m2b = ((v - mb[:, None]) ** 2).sum(axis=1)
            lo, hi = v.min(axis=1), v.max(axis=1)
        else:
            nb = finite.sum(axis=1).astype(float)
            w = np.where(finite, v, 0.0)
            mb = w.sum(axis=1) / np.maximum(nb, 1)
            m2b = (np.where(finite, v - mb[:, None], 0.0) ** 2).sum(axis=1)
            lo = np.where(finite, v, np.inf).min(axis=1)
            hi = np.where(finite, v, -np.inf).max(axis=1)
        tot = self.count + nb
        delta = mb - self.mean
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(tot > 0, nb / tot, 0.0)
            self.m2 += m2b + delta**2 * self.count * frac
        self.mean += delta * frac
        self.count = tot
        self.min = np.minimum(self.min, lo)
        self.max = np.maximum(self.max, hi)

    def result(self) -> np.ndarray:
        """Statistics, shape (n_cols * len(stats),), ordered column by column."""

        empty = self.count == 0
        table: dict[str, np.ndarray] = {
            "mean": np.where(empty, np.nan, self.mean),
            "std": np.where(empty, np.nan, np.sqrt(self.m2 / np.maximum(self.count, 1))),
            "min": np.where(empty, np.nan, self.min),
            "max": np.where(empty, np.nan, self.max),
        }
        pcts = [q for s in self.stats if (q := parse_stat(s)) is not None]
        if pcts:
            qs = np.full((self.n_cols, len(pcts)), np.nan)
            for c in range(self.n_cols):
                col = self._column(c).astype(np.float64)
                col = col[np.isfinite(col)]
                if len(col):
                    qs[c] = np.percentile(col, pcts)
            for i, s in enumerate(s for s in self.stats if parse_stat(s) is not None):
                table[s] = qs[:, i]
        out = np.stack([table[s] for s in self.stats], axis=1).reshape(-1)
        self.close()
        return out.astype(np.float32)

    def _column(self, c: int) -> np.ndarray:
        """All values of column ``c`` (from memory or the spill file)."""

        if self.store is not None:
            return np.asarray(self.store[c, : self.filled])
        parts = []
        for offset, n in self._blocks:
            self._file.seek(offset + c * n * 4)
            parts.append(np.fromfile(self._file, dtype=np.float32, count=n))
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def close(self) -> None:
        self.store = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def window_bounds(
    duration: float, n_frames: int, sr: int, hop_length: int, window: float, hop: float
) -> list[tuple[float, float, int, int]]:
    """Windows ``(start, end, first_frame, stop_frame)`` covering the file.

    A frame belongs to a window when its centre time ``t * hop_length / sr``
    is in ``[start, end)``; the last window ends at the duration and takes
    every frame left. Windows start every ``hop`` seconds while ``start < duration``.
    """
    out = []
    k = 0
    while True:
        start = k * hop
        if k and start >= duration:
            break
        end = min(start + window, duration)
        lo = min(n_frames, math.ceil(start * sr / hop_length - 1e-9))
        last = start + window >= duration
        hi = n_frames if last else min(n_frames, math.ceil(end * sr / hop_length - 1e-9))
        out.append((start, end, lo, hi))
        if last and hop >= window:
            break
        k += 1
    return out


class Windows:
    """Statistics per window, computed as soon as a window's frames have all arrived.

    Keeps only the frames of windows not finished yet (bounded by the window
    length plus one block).
    """

    def __init__(
        self, n_cols: int, stats: tuple[str, ...], bounds: list[tuple[float, float, int, int]]
    ) -> None:
        self.n_cols, self.stats, self.bounds = n_cols, stats, bounds
        self.blocks: list[tuple[int, np.ndarray]] = []
        self.seen = 0
        self.next = 0
        self.rows: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> None:
        """Add the next frames, shape (n_cols, n)."""
        self.blocks.append((self.seen, values))
        self.seen += values.shape[1]
        self._flush(final=False)

    def finish(self) -> np.ndarray:
        """Rows of statistics, shape (n_windows, n_cols * len(stats))."""

        self._flush(final=True)
        width = self.n_cols * len(self.stats)
        return np.vstack(self.rows) if self.rows else np.zeros((0, width), np.float32)

    def _flush(self, final: bool) -> None:
        while self.next < len(self.bounds):
            _, _, lo, hi = self.bounds[self.next]
            if hi > self.seen and not final:
                break
            acc = Summary(self.n_cols, self.stats, max(hi - lo, 1))
            for f0, block in self.blocks:
                a, b = max(lo, f0), min(hi, f0 + block.shape[1])
                if a < b:
                    acc.add(block[:, a - f0 : b - f0])
            self.rows.append(acc.result())
            self.next += 1
        keep_from = self.bounds[self.next][2] if self.next < len(self.bounds) else self.seen
        self.blocks = [(f0, b) for f0, b in self.blocks if f0 + b.shape[1] > keep_from]
