"""Levels and gain: peak, RMS and BS.1770 loudness, normalisation gain, the ceiling and the limiter.

Loudness is ITU-R BS.1770-4 integrated loudness, measured by
:mod:`audiokit.bs1770` as libebur128 (and so ffmpeg's ``ebur128`` and
``loudnorm`` filters) measures it (:class:`~audiokit.bs1770.StreamingLoudness`
block by block; :func:`~audiokit.bs1770.integrated_loudness` over a whole array,
the same value).

Conventions: ``y`` is ``(channels, n)`` float32; peak and RMS are in dBFS
(``20 log10``; a full-scale sine has an RMS of -3.01 dBFS; measured by
:mod:`audiokit.dsp.levels`, as ``inspect`` measures them), loudness in LUFS.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audiokit.bs1770 import integrated_loudness
from audiokit.dsp.levels import peak_dbfs, rms_dbfs
from audiokit.errors import InputError

#: Default ceiling (dBFS) that normalisation never exceeds.
DEFAULT_CEILING = -0.1


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
