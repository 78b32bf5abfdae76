"""Sample levels in numpy only: the one dB rule and the one peak/RMS meter.

``inspect`` (:class:`audiokit.inspection.LevelMeter`) and ``preprocess``
(its report, ``--normalize peak|rms`` and the streaming meter) measure with
:class:`PeakRms`: a streaming accumulator whose in-memory use is "feed the
array": :func:`peak_dbfs` and :func:`rms_dbfs` do that. This module is on
``audiokit inspect``'s start-up path: numpy only, and imported where it is
used, so that ``audiokit inspect --help`` does not load it.

Conventions (as sox's ``stat``/``stats``): dBFS is ``20 * log10(x)`` with full
scale at 1.0, so a full-scale sine has an RMS of -3.01 dBFS; digital silence
is ``-inf``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Frames fed at a time by the in-memory helpers (bounds their float64 copies).
CHUNK_FRAMES = 1 << 20


def db(x: float) -> float:
    """Amplitude ratio to dB, ``20 * log10(x)``; ``-inf`` for 0."""
    return 20.0 * math.log10(x) if x > 0 else -math.inf


class PeakRms:
    """Peak, sum of squares and sum per channel, over consecutive blocks.

    Parameters
    ----------
    channels : int
        Channels of every block.

    Notes
    -----
    Blocks are ``(frames, channels)`` (soundfile's layout; pass ``y.T`` for a
    ``(channels, n)`` array). Sums are kept in float64, so the result does not
    depend on the block size beyond float rounding.
    """

    def __init__(self, channels: int) -> None:
        import numpy as np

        self.channels = channels
        self.n = 0
        self.peak = np.zeros(channels)
        self.sumsq = np.zeros(channels)
        self.sum = np.zeros(channels)

    def update(self, block: np.ndarray) -> np.ndarray:
        """Add a ``(frames, channels)`` block; returns it as float64 (for further counts)."""
        import numpy as np

        x = np.asarray(block).astype(np.float64, copy=False)
        if x.size == 0:
            return x
        self.n += len(x)
        np.maximum(self.peak, np.abs(x).max(axis=0), out=self.peak)
        self.sumsq += np.einsum("ij,ij->j", x, x)
        self.sum += x.sum(axis=0)
        return x

    @property
    def total_peak(self) -> float:
        """Largest absolute sample over all channels (0 before any sample)."""
        return float(self.peak.max()) if self.channels else 0.0

    @property
    def total_rms(self) -> float:
        """RMS over all samples of all channels (0 before any sample)."""
        return math.sqrt(float(self.sumsq.sum()) / (max(self.n, 1) * max(self.channels, 1)))

    def channel_rms(self, c: int) -> float:
        """RMS of channel ``c``."""
        return math.sqrt(float(self.sumsq[c]) / max(self.n, 1))


def measure(y: np.ndarray) -> PeakRms:
    """A :class:`PeakRms` fed a whole ``(channels, n)`` (or ``(n,)``) array, chunk by chunk."""
    import numpy as np

    y = np.atleast_2d(y)
    meter = PeakRms(y.shape[0])
    for start in range(0, y.shape[-1], CHUNK_FRAMES):
        meter.update(y[:, start : start + CHUNK_FRAMES].T)
    return meter


def max_abs(y: np.ndarray) -> float:
    """Largest absolute sample of ``y`` (any shape; 0 when empty): :class:`PeakRms`'s peak.

    Taken in the array's own dtype, without a float64 copy: ``max(y.max(), -y.min())``
    is exact, so it equals the peak :class:`PeakRms` measures (0.03 ms instead of 0.5 ms
    for a 2 s float32 clip at 44.1 kHz).
    """
    if y.size == 0:
        return 0.0
    return float(max(y.max(), -y.min()))


def peak_dbfs(y: np.ndarray) -> float:
    """Largest absolute sample of ``y`` (channels, n) in dBFS (``-inf`` for silence)."""
    return db(max_abs(y))


def rms_dbfs(y: np.ndarray) -> float:
    """RMS over all samples of all channels of ``y`` (channels, n), in dBFS."""
    return db(measure(y).total_rms)


class FrameLevels:
    """Histogram of frame levels (dBFS, 0.01 dB bins) per channel and over all channels.

    Feeds on the mean squares of consecutive frames; frames of digital silence (a
    mean square of exactly 0) are counted apart and left out of the percentiles.
    Memory is fixed (``(channels + 1) * BINS`` counts) whatever the duration.

    Parameters
    ----------
    channels : int

    Notes
    -----
    Levels below ``LOW_DB`` are counted at ``LOW_DB``, above ``HIGH_DB`` at ``HIGH_DB``.
    """

    LOW_DB = -200.0
    HIGH_DB = 20.0
    STEP_DB = 0.01
    BINS = int(round((HIGH_DB - LOW_DB) / STEP_DB))

    def __init__(self, channels: int) -> None:
        import numpy as np

        self.channels = channels
        self.counts = np.zeros((channels + 1, self.BINS), dtype=np.int64)  # last row: all
        self.silent = np.zeros(channels + 1, dtype=np.int64)

    def add(self, power: np.ndarray) -> None:
        """Add the mean squares of some frames, shape (frames, channels)."""
        import numpy as np

        if len(power) == 0:
            return
        every = np.concatenate([power, power.mean(axis=1, keepdims=True)], axis=1)
        for row, p in enumerate(every.T):
            live = p[p > 0]
            self.silent[row] += len(p) - len(live)
            if len(live):
                level = 10 * np.log10(live)
                index = np.clip((level - self.LOW_DB) / self.STEP_DB, 0, self.BINS - 1)
                self.counts[row] += np.bincount(index.astype(np.int64), minlength=self.BINS)

    def percentile(self, q: float, channel: int | None = None) -> float:
        """The ``q``-th percentile (nearest rank) of the frame levels, in dBFS.

        Parameters
        ----------
        q : float
            0 to 100.
        channel : int, optional
            One channel's frames; None: the frames' mean square over all channels.

        Returns
        -------
        float
            The bin's centre (0.005 dB from the exact value); ``-inf`` when every
            frame is digital silence; NaN when there are no frames.
        """
        import numpy as np

        row = self.channels if channel is None else channel
        counts = self.counts[row]
        total = int(counts.sum())
        if total == 0:
            return -math.inf if self.silent[row] else math.nan
        rank = max(math.ceil(q / 100 * total), 1)
        index = int(np.searchsorted(np.cumsum(counts), rank))
        return round(self.LOW_DB + (index + 0.5) * self.STEP_DB, 3)
