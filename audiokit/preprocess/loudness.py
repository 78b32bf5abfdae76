"""Levels and gain: peak, RMS and BS.1770 loudness, normalisation gain, the ceiling and the limiter.

Loudness is ITU-R BS.1770-4 integrated loudness, measured as libebur128 (and
so ffmpeg's ``ebur128`` and ``loudnorm`` filters) measures it: K-weighting
designed for the signal's own rate from the analog prototype (at 48 kHz these
are the standard's coefficients; pyloudnorm's RBJ designs drift by up to
~0.1 LU at other rates), mean squares over 400 ms blocks every 100 ms, an
absolute gate at -70 LUFS and a relative gate 10 LU below the gated mean.
:class:`StreamingLoudness` does it block by block (the filter state carried
across blocks, one sum of squares kept per 100 ms), so a 3-hour file costs
~100 000 numbers per channel; :func:`integrated_loudness` feeds it a whole
array, so both give the same value.

Conventions: ``y`` is ``(channels, n)`` float32; peak and RMS are in dBFS
(``20 log10``; a full-scale sine has an RMS of -3.01 dBFS; measured by
:mod:`audiokit.dsp.levels`, as ``inspect`` measures them), loudness in LUFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from audiokit.dsp.levels import peak_dbfs, rms_dbfs
from audiokit.errors import InputError
from audiokit.sosfilt import sosfilt

#: Channel weights of BS.1770 (L, R, C, Ls, Rs).
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
#: Default ceiling (dBFS) that normalisation never exceeds.
DEFAULT_CEILING = -0.1


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

    def result(self) -> float:
        """Integrated loudness in LUFS (NaN when shorter than 400 ms)."""

        if not self._sums:
            return math.nan
        sums = np.concatenate(self._sums)  # (n_hops, channels)
        if len(sums) < 4:
            return math.nan
        z = (sums[:-3] + sums[1:-2] + sums[2:-1] + sums[3:]) / (4 * self.hop)
        return gated_loudness(z)


def gated_loudness(z: np.ndarray) -> float:
    """BS.1770 gating over mean squares ``z`` of shape (blocks, channels)."""

    g = np.array(
        [CHANNEL_WEIGHTS[c] if c < len(CHANNEL_WEIGHTS) else 1.0 for c in range(z.shape[1])]
    )
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


@dataclass(frozen=True)
class GainDecision:
    """What normalisation does to reach its target without clipping.

    Attributes
    ----------
    gain_db : float
        Gain applied (dB), after any reduction.
    wanted_db : float
        Gain the target asked for.
    measured : float
        Level before normalisation (dBFS, or LUFS for loudness).
    peak_after_dbfs : float
        Peak after the gain, before any limiter.
    gain_reduced : bool
        The gain was lowered so that the peak stays at the ceiling.
    limit : bool
        The limiter must run (``--limit`` and the wanted gain crosses the ceiling).
    """

    gain_db: float
    wanted_db: float
    measured: float
    peak_after_dbfs: float
    gain_reduced: bool
    limit: bool


def measure(mode: str, y: np.ndarray, sr: int) -> float:
    """The level ``--normalize MODE`` looks at (dBFS or LUFS)."""
    if mode == "peak":
        return peak_dbfs(y)
    if mode == "rms":
        return rms_dbfs(y)
    return integrated_loudness(y, sr)


def decide_gain(
    mode: str, measured: float, peak: float, target: float, ceiling: float, limit: bool
) -> GainDecision:
    """Gain for ``--normalize``, lowered (or handed to the limiter) so as never to clip.

    Parameters
    ----------
    mode
        ``peak``, ``rms`` or ``loudness``.
    measured
        Current level in the mode's unit.
    peak
        Current peak (dBFS).
    target, ceiling
        Target level and the highest peak allowed (dBFS).
    limit
        Prefer the look-ahead limiter to lowering the gain.

    Raises
    ------
    InputError
        Silent input, or too short for a loudness measurement.
    """
    if math.isnan(measured):
        raise InputError("too short to measure loudness (needs at least 0.4 s)")
    if not math.isfinite(measured) or not math.isfinite(peak):
        raise InputError(f"cannot normalise: the signal is silent ({mode} is -inf)")
    wanted = target - measured
    if peak + wanted <= ceiling + 1e-9:
        return GainDecision(wanted, wanted, measured, peak + wanted, False, False)
    if limit and mode != "peak":  # limiting a peak target would only land on the ceiling
        return GainDecision(wanted, wanted, measured, peak + wanted, False, True)
    gain = ceiling - peak
    return GainDecision(gain, wanted, measured, peak + gain, True, False)


def gain_reduced_warning(mode: str, dec: GainDecision, target: float, ceiling: float) -> str:
    """The report line saying that the target was not reached, and why."""
    unit = "LUFS" if mode == "loudness" else "dBFS"
    hint = "; --limit reaches the target with a limiter" if mode != "peak" else ""
    return (
        f"normalize: {target:g} {unit} would clip; gain lowered to {dec.gain_db:+.2f} dB "
        f"(peak at {ceiling:g} dBFS, {mode} {dec.measured + dec.gain_db:.2f} {unit}){hint}"
    )


def apply_gain(y: np.ndarray, gain_db: float) -> np.ndarray:
    """``y * 10^(gain_db/20)`` as float32."""

    return (y * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)


def limit(y: np.ndarray, sr: int, ceiling_db: float, lookahead_ms: float = 5.0) -> np.ndarray:
    """Look-ahead peak limiter: no sample exceeds the ceiling, with smooth gain changes.

    The gain each sample needs (``min(1, ceiling/|x|)``, the minimum over the
    channels) is spread with a moving minimum over ±``lookahead`` and then
    smoothed with a moving average of ``lookahead`` samples; since every
    average only covers samples whose minimum already includes the current
    one, the smoothed gain never exceeds the needed gain, so nothing clips.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n)
    sr : int
    ceiling_db : float
    lookahead_ms : float

    Returns
    -------
    np.ndarray, shape (channels, n), float32
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceil = 10 ** (ceiling_db / 20)
    peak = np.max(np.abs(y), axis=0)
    need = np.minimum(1.0, ceil / np.maximum(peak, 1e-12))
    la = max(1, int(round(lookahead_ms * sr / 1000)))
    g = minimum_filter1d(need, size=2 * la + 1, mode="nearest")
    g = uniform_filter1d(g, size=2 * la + 1, mode="nearest")
    g = np.minimum(g, need)  # guard against float rounding
    out = (y * g).astype(np.float32)
    return np.clip(out, -ceil, ceil)
