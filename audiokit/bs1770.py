"""ITU-R BS.1770-4 loudness, EBU Tech 3342 loudness range and true peak, streamed.

The measurements of an EBU R128 meter, as libebur128 and ffmpeg's ``ebur128``
filter make them:

- **Integrated loudness** (LUFS): K-weighting designed for the signal's own rate
  from the analog prototype (at 48 kHz these are the standard's coefficients;
  pyloudnorm's RBJ designs drift by up to ~0.1 LU at other rates), mean squares
  over 400 ms blocks every 100 ms, weighted over the channels, an absolute gate
  at -70 LUFS and a relative gate 10 LU below the gated mean.
- **Loudness range** (LU, EBU Tech 3342): short-term loudness over 3 s windows
  every 100 ms (as ffmpeg's meter), an absolute gate at -70 LUFS and a relative
  gate 20 LU below the gated mean, then the spread between the 10th and the 95th
  percentile (ranks rounded as ffmpeg rounds them).
- **True peak** (dBTP, BS.1770 Annex 2): each channel oversampled four times (at
  48 or 44.1 kHz; lower rates up to about 192 kHz, see :func:`oversampling`) by a
  polyphase interpolation filter, the largest magnitude of the result. Not the
  Annex's printed 48-tap example filter: its phases ripple by up to 0.24 dB in
  the passband (two of them sum to 0.973 at DC) and its points sit at odd
  eighths of a sample, never on the samples themselves; the standard tolerates
  that (+0.2/-0.4 dB), a comparison with ffmpeg to 0.1 dB would not. The filter
  here is a Kaiser-windowed sinc of 32 taps per phase (flat to 0.001 dB up to
  0.8 of Nyquist) whose points are the samples themselves and the quarter, half
  and three-quarter positions (at 4x): the grid of libebur128 and of ffmpeg's
  ``peak=true`` (which upsamples 48 kHz to 192 kHz).

Everything is measured block by block with the filter states carried across
blocks: :class:`StreamingLoudness` keeps one sum of squares per channel per
100 ms (a 3-hour file costs ~100 000 numbers per channel), :class:`TruePeak`
keeps 31 samples of history; :class:`LoudnessMeter` runs both over
``(frames, channels)`` blocks. The result does not depend on how the signal
was cut. :func:`integrated_loudness` feeds a whole array.

Conventions: ``(channels, n)`` arrays for :class:`StreamingLoudness` (as
``preprocess`` holds audio), ``(frames, channels)`` blocks for :class:`TruePeak`
and :class:`LoudnessMeter` (as ``audio_io.iter_blocks`` yields them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiokit.dsp.levels import db
from audiokit.sosfilt import sosfilt

#: Channel weights of BS.1770 (L, R, C, Ls, Rs).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0


def k_weighting(sr: float) -> np.ndarray:
    """BS.1770 K-weighting for rate ``sr`` as second-order sections (shelf, then high-pass).

    The two biquads are derived from their analog prototypes with a prewarped
    bilinear transform, as libebur128 does; at 48 kHz they are the
    coefficients printed in BS.1770.

    Returns
    -------
    np.ndarray, shape (2, 6)
        ``[b0, b1, b2, 1, a1, a2]`` per section (``scipy.signal.sosfilt`` layout).
    """

    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sr)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sr)
    a0 = 1 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def channel_weights(channels: int) -> np.ndarray:
    """BS.1770 weights of ``channels`` channels in file order (L, R, C, Ls, Rs; 1.0 beyond).

    Returns
    -------
    np.ndarray, shape (channels,)
    """
    return np.array(
        [CHANNEL_WEIGHTS[c] if c < len(CHANNEL_WEIGHTS) else 1.0 for c in range(channels)]
    )


def hop_samples(sr: int) -> int:
    """Samples per 100 ms (rounded as libebur128 does); a gating block is four of them."""
    return (int(sr) + 5) // 10


def integrated_loudness(y: np.ndarray, sr: int) -> float:
    """BS.1770 integrated loudness of a whole signal.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n)
    sr : int

    Returns
    -------
    float
        LUFS; NaN when the signal is shorter than one 400 ms block,
        ``-inf`` when every block is below the absolute gate.
    """
    meter = StreamingLoudness(sr, y.shape[0])
    for start in range(0, y.shape[-1], 1 << 20):  # float64 copies of 1 Mi samples at most
        meter.update(y[:, start : start + (1 << 20)])
    return meter.result()


class StreamingLoudness:
    """BS.1770 integrated loudness measured block by block.

    Parameters
    ----------
    sr : int
        Sample rate.
    channels : int
        Number of channels (BS.1770 weights for L, R, C, Ls, Rs; 1.0 beyond).

    Notes
    -----
    Feed ``(channels, frames)`` blocks of any size to :meth:`update`, then
    call :meth:`result`. The result does not depend on how the signal was cut.
    """

    def __init__(self, sr: int, channels: int) -> None:
        self.sr = sr
        self.channels = channels
        self.hop = hop_samples(sr)
        self._sos = k_weighting(sr)
        self._zi = np.zeros((len(self._sos), channels, 2))
        self._pos = 0  # samples seen
        self._acc = np.zeros(channels)  # sum of squares of the current 100 ms
        self._sums: list[Any] = []  # completed 100 ms sums, (k, channels) arrays

    def update(self, block: np.ndarray) -> None:
        """Add ``(channels, frames)`` samples."""

        if block.shape[-1] == 0:
            return
        # sosfilt filters a float64 copy of its own: no copy here.
        x, self._zi = sosfilt(self._sos, block, axis=-1, zi=self._zi)
        sq = np.square(x, out=x)
        hop, n = self.hop, sq.shape[-1]
        # Finish the 100 ms started in an earlier block, then whole ones at once.
        head = min(n, (hop - self._pos % hop) % hop)
        self._acc += sq[:, :head].sum(axis=-1)
        self._pos += head
        if head and self._pos % hop == 0:
            self._sums.append(self._acc[None, :])
            self._acc = np.zeros(self.channels)
        whole = (n - head) // hop
        if whole:
            part = sq[:, head : head + whole * hop].reshape(self.channels, whole, hop)
            self._sums.append(part.sum(axis=-1).T)
            self._pos += whole * hop
        self._acc += sq[:, head + whole * hop :].sum(axis=-1)
        self._pos += n - head - whole * hop

    def hop_sums(self) -> np.ndarray:
        """Sums of squares of the K-weighted signal per complete 100 ms.

        Returns
        -------
        np.ndarray, shape (n_hops, channels)
            A trailing partial 100 ms is left out (it belongs to no whole block).
        """
        if not self._sums:
            return np.zeros((0, self.channels))
        self._sums = [np.concatenate(self._sums)]
        return self._sums[0]

    def result(self) -> float:
        """Integrated loudness in LUFS (NaN when shorter than 400 ms)."""

        sums = self.hop_sums()
        if len(sums) < 4:
            return math.nan
        z = (sums[:-3] + sums[1:-2] + sums[2:-1] + sums[3:]) / (4 * self.hop)
        return gated_loudness(z)


def gated_loudness(z: np.ndarray) -> float:
    """BS.1770 gating over mean squares ``z`` of shape (blocks, channels)."""

    g = channel_weights(z.shape[1])
    with np.errstate(divide="ignore"):
        lj = -0.691 + 10 * np.log10(z @ g)
    keep = lj > ABSOLUTE_GATE
    if not keep.any():
        return -math.inf
    gamma_r = -0.691 + 10 * math.log10(float(z[keep].mean(axis=0) @ g)) + RELATIVE_GATE
    keep &= lj > gamma_r
    if not keep.any():
        return -math.inf
    return -0.691 + 10 * math.log10(float(z[keep].mean(axis=0) @ g))


#: Loudness range: the short-term window in 100 ms hops, its gates and percentiles.
SHORT_TERM_HOPS = 30
LRA_RELATIVE_GATE = -20.0
LRA_LOW_PERCENT = 10
LRA_HIGH_PERCENT = 95


def window_means(sums: np.ndarray, hops: int, hop: int) -> np.ndarray:
    """Mean squares over windows of ``hops`` consecutive 100 ms sums, one window per hop.

    Parameters
    ----------
    sums : np.ndarray, shape (n_hops, channels)
        Sums of squares per 100 ms (:meth:`StreamingLoudness.hop_sums`).
    hops : int
        Window length in hops (4 for 400 ms blocks, 30 for 3 s short-term windows).
    hop : int
        Samples per hop.

    Returns
    -------
    np.ndarray, shape (max(n_hops - hops + 1, 0), channels)
    """
    if len(sums) < hops:
        return np.zeros((0, sums.shape[1]))
    windows = np.lib.stride_tricks.sliding_window_view(sums, hops, axis=0)
    return windows.sum(axis=-1) / (hops * hop)  # sums each window: no cumulative drift


def _loudness(power: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(power)


def loudness_range(z: np.ndarray) -> float:
    """EBU Tech 3342 loudness range over short-term mean squares ``z`` (windows, channels).

    Returns
    -------
    float
        LU; NaN when no 3 s window passes the gates (shorter than 3 s, or silent).
    """
    g = channel_weights(z.shape[1])
    power = z @ g
    lj = _loudness(power)
    keep = lj >= ABSOLUTE_GATE  # ">=" as ffmpeg (and Tech 3342's example code)
    if not keep.any():
        return math.nan
    gate = float(_loudness(np.array(power[keep].mean()))) + LRA_RELATIVE_GATE
    values = np.sort(lj[keep & (lj >= gate)])
    n = len(values)

    def rank(percent: int) -> float:
        return float(values[max(int(percent * n / 100 + 0.5) - 1, 0)])

    return rank(LRA_HIGH_PERCENT) - rank(LRA_LOW_PERCENT)


#: True peak: the oversampling factor at 48 kHz, the rate it reaches (BS.1770 Annex 2),
#: the filter's half-length (input samples) and Kaiser beta.
OVERSAMPLE = 4
OVERSAMPLED_RATE = 192_000
HALF_TAPS = 16
KAISER_BETA = 8.0


def oversampling(sr: int) -> int:
    """The oversampling factor for rate ``sr``: 4 at 48 kHz (and 44.1 kHz), more below.

    BS.1770 Annex 2 oversamples 48 kHz audio four times, to 192 kHz; a 16 kHz
    file oversampled only four times would be looked at 64 000 times a second,
    too coarse to find its peaks, so lower rates are oversampled to about
    192 kHz (ffmpeg reaches the same rate by resampling to 48 kHz first).
    """
    return max(OVERSAMPLE, round(OVERSAMPLED_RATE / sr))


def interpolation_filter(
    factor: int = OVERSAMPLE, half: int = HALF_TAPS, beta: float = KAISER_BETA
) -> np.ndarray:
    """The phases of a Kaiser-windowed sinc interpolator between two samples.

    Returns
    -------
    np.ndarray, shape (factor - 1, 2 * half), float32
        Row ``p - 1`` gives the value at ``n + p / factor`` from ``x[n - half + 1 .. n + half]``
        (phase 0 is the sample itself and needs no filter).
    """
    k = np.arange(-half + 1, half + 1)
    rows = []
    for p in range(1, factor):
        t = k - p / factor
        window = np.i0(beta * np.sqrt(np.clip(1 - (t / half) ** 2, 0, None))) / np.i0(beta)
        rows.append(np.sinc(t) * window)
    return np.array(rows, dtype=np.float32)


class TruePeak:
    """The largest magnitude of each channel oversampled (:func:`oversampling`), streamed.

    Parameters
    ----------
    channels : int
    sr : int
        Sample rate (sets the oversampling factor).

    Notes
    -----
    An interpolated point needs ``HALF_TAPS`` samples after it, so each block's
    last points wait for the next block; :meth:`result` flushes them with zeros
    (the signal is taken as silent beyond its ends, as a resampler takes it).
    """

    def __init__(self, channels: int, sr: int = 48_000) -> None:
        self.channels = channels
        taps = interpolation_filter(oversampling(sr))
        self._kernels = [np.ascontiguousarray(row[::-1]) for row in taps]  # for np.convolve
        #: No interpolated point exceeds this times the largest sample around it.
        self._gain = float(np.abs(taps).sum(axis=1).max())
        self._taps = taps.shape[1]
        self._history = np.zeros((self._taps - 1, channels), dtype=np.float32)
        self.peak = np.zeros(channels)
        self._flushed = False

    def update(self, block: np.ndarray) -> None:
        """Add a ``(frames, channels)`` block."""
        if len(block) == 0:
            return
        x = np.asarray(block, dtype=np.float32)
        np.maximum(self.peak, np.abs(x).max(axis=0), out=self.peak)  # phase 0: the samples
        buf = np.concatenate([self._history, x])
        self._history = buf[-(self._taps - 1) :]
        bound = self._gain * np.abs(buf).max(axis=0)
        for c in range(self.channels):
            if bound[c] <= self.peak[c]:  # a quiet block cannot raise the peak: skip it
                continue
            lane = np.ascontiguousarray(buf[:, c])
            for kernel in self._kernels:  # window i: sum_j lane[i + j] * taps[j]
                between = float(np.abs(np.convolve(lane, kernel, "valid")).max())
                self.peak[c] = max(self.peak[c], between)

    def result(self) -> np.ndarray:
        """Linear true peak per channel, shape (channels,) (0 for silence)."""
        if not self._flushed:
            self._flushed = True
            self.update(np.zeros((self._taps // 2, self.channels), dtype=np.float32))
        return self.peak.copy()


@dataclass(frozen=True)
class ProgrammeLoudness:
    """An EBU R128 meter's summary of a signal (all channels, or one channel as mono).

    Attributes
    ----------
    integrated_lufs : float
        BS.1770 integrated loudness; NaN when shorter than a 400 ms block or when
        no block passes the gates (silence).
    range_lu : float
        EBU Tech 3342 loudness range; NaN when no 3 s window passes the gates.
    true_peak : float
        Linear true peak (full scale 1.0; 0 for silence).
    """

    integrated_lufs: float
    range_lu: float
    true_peak: float

    @property
    def true_peak_dbtp(self) -> float:
        """True peak in dBTP (``-inf`` for silence)."""
        return db(self.true_peak)


def _integrated(z: np.ndarray) -> float:
    if len(z) == 0:
        return math.nan
    value = gated_loudness(z)
    return value if math.isfinite(value) else math.nan


class LoudnessMeter:
    """Integrated loudness, loudness range and true peak of ``(frames, channels)`` blocks.

    Parameters
    ----------
    sr : int
        Sample rate.
    channels : int
    """

    def __init__(self, sr: int, channels: int) -> None:
        self.channels = channels
        self.loudness = StreamingLoudness(sr, channels)
        self.peak = TruePeak(channels, sr)

    def update(self, block: np.ndarray) -> None:
        """Add a ``(frames, channels)`` block."""
        if len(block) == 0:
            return
        self.loudness.update(np.asarray(block).T)
        self.peak.update(block)

    def result(self) -> tuple[ProgrammeLoudness, list[ProgrammeLoudness]]:
        """The programme (BS.1770 channel weights), and each channel measured as mono."""
        sums = self.loudness.hop_sums()
        hop = self.loudness.hop
        blocks = window_means(sums, 4, hop)
        short = window_means(sums, SHORT_TERM_HOPS, hop)
        peaks = self.peak.result()
        total = ProgrammeLoudness(
            _integrated(blocks), loudness_range(short), float(peaks.max(initial=0.0))
        )
        per = [
            ProgrammeLoudness(
                _integrated(blocks[:, [c]]), loudness_range(short[:, [c]]), float(peaks[c])
            )
            for c in range(self.channels)
        ]
        return total, per
