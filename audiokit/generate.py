"""Test signals: sine tones, sums of tones, chirps, white/pink/brown noise, silence.

Every signal is a pure function of its parameters (and, for noise, its seed): the
same :class:`Signal` gives the same samples, block by block or whole, so a long
signal is streamed in two passes (measure the peak, then write) in bounded memory.

Conventions, one for every signal:

- ``frames = round(sr * duration)``; sample ``k`` is at time ``k / sr``.
- **Amplitude is the sample peak.** A signal is scaled so that ``max |x|`` over its
  samples (all channels) equals ``amplitude`` (a sum of tones too, and noise):
  ``audiokit inspect`` then reads ``peak_dbfs = 20 log10(amplitude)``. A signal whose
  samples are all zero (silence, a 1-sample sine) stays zero.
- Tones are ``sin(2 pi f t + phase)``; a chirp is ``sin(phase(t) + phase)`` with the
  phase of ``scipy.signal.chirp`` (``librosa.chirp``'s convention: it starts as a sine).
- Tones and chirps are the same on every channel; noise is independent per channel
  (channel ``c`` draws from child ``c`` of ``numpy.random.SeedSequence(seed)``; one
  gain, from the peak over every channel, scales them all).
- Noise colours: white (Gaussian), pink (power ∝ 1/f: -10 dB/decade) and brown
  (1/f²: -20 dB/decade) from :data:`NOISE_FLOOR_HZ` up to Nyquist: white noise
  convolved with a linear-phase FIR designed by frequency sampling
  (:func:`shaping_filter`), streamed by overlap-save.
- Fades (``fade_ms``) are raised-cosine ramps at both ends, applied after scaling.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from audiokit import limits
from audiokit.errors import UsageError

#: The signals, as the CLI names them.
TONES = ("sine", "tones")
NOISES = ("white", "pink", "brown")
SIGNALS = (*TONES, "chirp", *NOISES, "silence")
#: Chirp sweeps, as ``scipy.signal.chirp`` names them (``log`` is its ``logarithmic``).
SWEEPS = ("linear", "log")
#: Samples per block when streaming.
BLOCK = 1 << 16
#: Pink and brown noise follow their slope from here up (flat below: no unbounded DC power).
NOISE_FLOOR_HZ = 10.0
#: Fades (ms), as preprocess --fade-ms.
FADE_MAX_MS = 60_000.0


@dataclass(frozen=True)
class Signal:
    """One test signal, fully specified.

    Attributes
    ----------
    kind : str
        One of :data:`SIGNALS`.
    sr : int
        Sample rate in Hz.
    frames : int
        Length in samples.
    freqs : tuple of float
        Tone frequencies in Hz (``sine``: one; ``tones``: any); ``chirp``: (start, end).
    amplitude : float
        The sample peak, ``0 < amplitude <= 1``.
    phase : float
        Start phase in radians (tones, chirp).
    sweep : str
        Chirp sweep: ``linear`` or ``log``.
    channels : int
    seed : int
        Noise seed.
    fade : int
        Raised-cosine fade length at each end, in samples.
    """

    kind: str
    sr: int
    frames: int
    freqs: tuple[float, ...] = ()
    amplitude: float = 1.0
    phase: float = 0.0
    sweep: str = "linear"
    channels: int = 1
    seed: int = 0
    fade: int = 0

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sr


def frames_for(sr: int, duration: float) -> int:
    """``round(sr * duration)``: the length in samples of ``duration`` seconds."""
    return round(sr * duration)


def make(
    kind: str,
    *,
    sr: int,
    duration: float,
    freqs: Sequence[float] = (),
    amplitude: float = 1.0,
    phase: float = 0.0,
    sweep: str = "linear",
    channels: int = 1,
    seed: int = 0,
    fade_ms: float = 0.0,
) -> Signal:
    """A checked :class:`Signal` from user-level values (seconds, milliseconds).

    Raises
    ------
    UsageError
        A value out of range: a frequency at or above Nyquist, a duration out of
        (0, 24 h], an amplitude out of (0, 1], a chirp without two frequencies...
    """
    limits.check_range("--duration", duration, 0.0, limits.DURATION_MAX, "s")
    limits.check_range("--fade-ms", fade_ms, 0.0, FADE_MAX_MS, "ms")
    sig = Signal(
        kind=kind,
        sr=sr,
        frames=frames_for(sr, duration),
        freqs=tuple(float(f) for f in freqs),
        amplitude=float(amplitude),
        phase=float(phase),
        sweep=sweep,
        channels=channels,
        seed=seed,
        fade=round(sr * fade_ms / 1000.0),
    )
    check(sig)
    return sig


def check(sig: Signal) -> None:
    """Refuse an impossible signal (UsageError), before any work."""
    if sig.kind not in SIGNALS:
        raise UsageError(f"unknown signal {sig.kind!r}: use one of {', '.join(SIGNALS)}")
    limits.check_range("--sr", sig.sr, limits.SR_MIN, limits.SR_MAX, "Hz")
    if sig.frames < 1:
        raise UsageError(f"--duration {sig.duration:g} s is shorter than one sample at {sig.sr} Hz")
    if not 0.0 < sig.amplitude <= 1.0 or math.isnan(sig.amplitude):
        raise UsageError(f"--amplitude {sig.amplitude:g} is out of range: use 0 < A <= 1 (peak)")
    if not 1 <= sig.channels <= 64:
        raise UsageError(f"--channels {sig.channels} is out of range: use 1 to 64")
    if sig.sweep not in SWEEPS:
        raise UsageError(f"sweep {sig.sweep!r}: use one of {', '.join(SWEEPS)}")
    if not math.isfinite(sig.phase):
        raise UsageError("the phase must be a finite number of radians")
    wanted = {"sine": "one frequency", "chirp": "two frequencies, START:END"}
    count = {"sine": 1, "chirp": 2}.get(sig.kind)
    if sig.kind in (*TONES, "chirp"):
        if not sig.freqs or (count is not None and len(sig.freqs) != count):
            need = wanted.get(sig.kind, "one or more frequencies")
            raise UsageError(f"{sig.kind} needs {need} (--freq)")
    elif sig.freqs:
        raise UsageError(f"{sig.kind} takes no --freq")
    nyquist = sig.sr / 2
    for f in sig.freqs:
        if not 0.0 < f < nyquist:
            raise UsageError(
                f"--freq {f:g} Hz is out of range at --sr {sig.sr}: use 0 < f < {nyquist:g} Hz"
            )
    if sig.kind == "chirp" and sig.freqs[0] == sig.freqs[1] and sig.sweep == "log":
        raise UsageError("a log chirp needs two different frequencies")


# --------------------------------------------------------------------------------------------
# Unscaled samples, block by block
# --------------------------------------------------------------------------------------------


def _times(start: int, n: int, sr: int) -> np.ndarray:
    return np.arange(start, start + n, dtype=np.float64) / sr


def _tone_block(sig: Signal, start: int, n: int) -> np.ndarray:
    t = _times(start, n, sig.sr)
    out = np.zeros(n)
    for f in sig.freqs:
        out += np.sin(2.0 * np.pi * f * t + sig.phase)
    return out


def chirp_phase(t: np.ndarray, f0: float, t1: float, f1: float, sweep: str) -> np.ndarray:
    """The phase (radians) of ``scipy.signal.chirp(t, f0, t1, f1, method)``.

    Parameters
    ----------
    t : np.ndarray, shape (n,)
        Times in seconds.
    f0, f1 : float
        Frequencies (Hz) at ``t = 0`` and ``t = t1``.
    t1 : float
        The sweep's length in seconds.
    sweep : str
        ``linear`` or ``log`` (scipy's ``logarithmic``).

    Returns
    -------
    np.ndarray, shape (n,)
    """
    if sweep == "linear":
        beta = (f1 - f0) / t1
        return 2.0 * np.pi * (f0 * t + 0.5 * beta * t * t)
    if f0 == f1:
        return 2.0 * np.pi * f0 * t
    beta = t1 / np.log(f1 / f0)
    return 2.0 * np.pi * beta * f0 * (np.power(f1 / f0, t / t1) - 1.0)


def _chirp_block(sig: Signal, start: int, n: int) -> np.ndarray:
    f0, f1 = sig.freqs
    t = _times(start, n, sig.sr)
    return np.sin(chirp_phase(t, f0, sig.duration, f1, sig.sweep) + sig.phase)


def shaping_filter(sr: int, exponent: float) -> np.ndarray:
    """A linear-phase FIR whose power response is ``1 / f^exponent`` above the floor.

    Frequency sampling on :func:`shaping_length` bins: gain ``max(f, floor)^(-exponent/2)``
    (flat below :data:`NOISE_FLOOR_HZ`, so the noise has no unbounded DC power),
    made causal and Hann-windowed. ``exponent`` 1 is pink, 2 brown.

    Returns
    -------
    np.ndarray, shape (taps,)
    """
    taps = shaping_length(sr)
    f = np.fft.rfftfreq(taps, 1.0 / sr)
    gain = np.maximum(f, NOISE_FLOOR_HZ) ** (-exponent / 2.0)
    h = np.roll(np.fft.irfft(gain, taps), taps // 2) * np.hanning(taps)
    return np.asarray(h / np.sqrt(np.sum(h * h)))


def shaping_length(sr: int) -> int:
    """Taps of the noise-shaping FIR: a power of two covering 4 periods of the floor
    frequency, at most 65536 (above ~160 kHz the flat part starts higher)."""
    want = 4.0 * sr / NOISE_FLOOR_HZ
    return int(min(1 << 16, 1 << math.ceil(math.log2(want))))


class _Noise:
    """Block-wise noise of one signal: one generator and one FIR history per channel.

    Coloured noise is white noise convolved with :func:`shaping_filter` ("valid" part:
    the history is primed with ``taps - 1`` samples, so there is no start-up transient).
    """

    def __init__(self, sig: Signal) -> None:
        children = np.random.SeedSequence(sig.seed).spawn(sig.channels)
        self.rngs = [np.random.default_rng(c) for c in children]
        exponent = {"pink": 1.0, "brown": 2.0}.get(sig.kind)
        self.h = None if exponent is None else shaping_filter(sig.sr, exponent)
        self.spectra: dict[int, np.ndarray] = {}
        self.history = None if self.h is None else self._white(len(self.h) - 1)

    def _white(self, n: int) -> np.ndarray:
        return np.stack([rng.standard_normal(n) for rng in self.rngs])

    def block(self, n: int) -> np.ndarray:
        white = self._white(n)
        if self.h is None or self.history is None:
            return white
        buf = np.concatenate([self.history, white], axis=-1)
        size = 1 << math.ceil(math.log2(buf.shape[-1]))
        if size not in self.spectra:
            self.spectra[size] = np.fft.rfft(self.h, size)
        full = np.fft.irfft(np.fft.rfft(buf, size) * self.spectra[size], size)
        taps = len(self.h)
        self.history = buf[:, buf.shape[-1] - (taps - 1) :]
        return np.asarray(full[:, taps - 1 : taps - 1 + n])


def raw_blocks(sig: Signal, block: int = BLOCK) -> Iterator[np.ndarray]:
    """The signal before scaling and fades, in blocks.

    Yields
    ------
    np.ndarray, float64, shape (channels, m)
        Consecutive blocks (``m <= block``) covering ``sig.frames`` samples.
    """
    noise = _Noise(sig) if sig.kind in NOISES else None
    for start in range(0, sig.frames, block):
        n = min(block, sig.frames - start)
        if noise is not None:
            yield noise.block(n)
            continue
        if sig.kind == "silence":
            mono = np.zeros(n)
        elif sig.kind == "chirp":
            mono = _chirp_block(sig, start, n)
        else:
            mono = _tone_block(sig, start, n)
        yield np.broadcast_to(mono, (sig.channels, n))


def peak(sig: Signal, block: int = BLOCK) -> float:
    """``max |x|`` of the unscaled signal over every sample and channel (one pass)."""
    if sig.kind == "silence":
        return 0.0
    return max(float(np.max(np.abs(b))) for b in raw_blocks(sig, block))


def fade_gain(start: int, n: int, frames: int, fade: int) -> np.ndarray | None:
    """Raised-cosine fade gains of samples ``start .. start+n`` (None: no fade there).

    The ramp is preprocess's (:func:`audiokit.preprocess.steps.fade_curve`: ``0.5 - 0.5
    cos(pi k / L)``), at most half the signal at each end.
    """
    length = min(fade, frames // 2)
    if length <= 0 or (length <= start and start + n <= frames - length):
        return None
    k = np.arange(start, start + n)
    ramp_in = 0.5 - 0.5 * np.cos(np.pi * np.minimum(k, length) / length)
    back = frames - 1 - k
    ramp_out = 0.5 - 0.5 * np.cos(np.pi * np.minimum(back, length) / length)
    return np.minimum(ramp_in, ramp_out)


def blocks(
    sig: Signal, block: int = BLOCK, scale: float | None = None, dtype: type = np.float32
) -> Iterator[np.ndarray]:
    """The signal as written: scaled to its amplitude (sample peak), faded, in blocks.

    Parameters
    ----------
    sig
        The signal.
    block
        Samples per block.
    scale
        The gain to apply (None: ``amplitude / peak(sig)``, a first pass over the signal).
    dtype
        Sample type of the blocks.

    Yields
    ------
    np.ndarray, shape (channels, m)
    """
    if scale is None:
        top = peak(sig, block)
        scale = sig.amplitude / top if top > 0 else 0.0
    start = 0
    for raw in raw_blocks(sig, block):
        n = raw.shape[-1]
        y = raw * scale if scale != 1.0 else np.array(raw)
        gain = fade_gain(start, n, sig.frames, sig.fade)
        if gain is not None:
            y = y * gain
        start += n
        yield y.astype(dtype, copy=False)


def render(sig: Signal, dtype: type = np.float32, scale: float | None = None) -> np.ndarray:
    """The whole signal in memory.

    ``scale``: a gain applied to the unit waveform (``sin(...)`` for a tone) instead of
    scaling to the sample peak (``scripts/make_sample_data.py`` uses it to keep the
    committed files' exact samples).

    Returns
    -------
    np.ndarray, shape (channels, frames)
    """
    return np.concatenate(list(blocks(sig, scale=scale, dtype=dtype)), axis=-1)


# --------------------------------------------------------------------------------------------
# The library API: one function per signal family
# --------------------------------------------------------------------------------------------


def tone(
    freqs: float | Sequence[float],
    sr: int,
    duration: float,
    amplitude: float = 1.0,
    phase: float = 0.0,
    *,
    channels: int = 1,
    fade_ms: float = 0.0,
    dtype: type = np.float32,
) -> np.ndarray:
    """A sine tone, or a sum of sines scaled so that the sample peak equals ``amplitude``.

    Parameters
    ----------
    freqs
        One frequency or several (Hz), each below ``sr / 2``.
    sr
        Sample rate (Hz).
    duration
        Seconds; the result has ``round(sr * duration)`` samples.
    amplitude
        The sample peak of the result, ``0 < amplitude <= 1``.
    phase
        Start phase of every tone (radians).
    channels
        The same tone on each channel.
    fade_ms
        Raised-cosine fade at each end (ms).
    dtype
        Sample type (float32 by default).

    Returns
    -------
    np.ndarray, shape (channels, round(sr * duration))
    """
    many = np.atleast_1d(np.asarray(freqs, dtype=np.float64)).tolist()
    kind = "sine" if len(many) == 1 else "tones"
    sig = make(
        kind,
        sr=sr,
        duration=duration,
        freqs=many,
        amplitude=amplitude,
        phase=phase,
        channels=channels,
        fade_ms=fade_ms,
    )
    return render(sig, dtype)


def chirp(
    f0: float,
    f1: float,
    sr: int,
    duration: float,
    amplitude: float = 1.0,
    *,
    sweep: str = "linear",
    phase: float = 0.0,
    channels: int = 1,
    fade_ms: float = 0.0,
    dtype: type = np.float32,
) -> np.ndarray:
    """A sine sweep from ``f0`` to ``f1`` Hz over ``duration`` s (``librosa.chirp``'s, scaled).

    ``sweep='linear'`` or ``'log'`` (exponential, as ``librosa.chirp(linear=False)``).
    The sample peak equals ``amplitude``.

    Returns
    -------
    np.ndarray, shape (channels, round(sr * duration))
    """
    sig = make(
        "chirp",
        sr=sr,
        duration=duration,
        freqs=(f0, f1),
        amplitude=amplitude,
        phase=phase,
        sweep=sweep,
        channels=channels,
        fade_ms=fade_ms,
    )
    return render(sig, dtype)


def noise(
    color: str,
    sr: int,
    duration: float,
    amplitude: float = 1.0,
    *,
    seed: int = 0,
    channels: int = 1,
    fade_ms: float = 0.0,
    dtype: type = np.float32,
) -> np.ndarray:
    """White, pink (1/f power) or brown (1/f²) Gaussian noise, sample peak ``amplitude``.

    Channels are independent; the same seed gives the same samples.

    Returns
    -------
    np.ndarray, shape (channels, round(sr * duration))
    """
    if color not in NOISES:
        raise UsageError(f"noise colour {color!r}: use one of {', '.join(NOISES)}")
    sig = make(
        color,
        sr=sr,
        duration=duration,
        amplitude=amplitude,
        seed=seed,
        channels=channels,
        fade_ms=fade_ms,
    )
    return render(sig, dtype)


def silence(sr: int, duration: float, *, channels: int = 1, dtype: type = np.float32) -> np.ndarray:
    """Digital silence: zeros of shape ``(channels, round(sr * duration))``."""
    sig = make("silence", sr=sr, duration=duration, channels=channels)
    return np.zeros((sig.channels, sig.frames), dtype=dtype)


def describe(sig: Signal) -> dict[str, object]:
    """The parameters of a signal, for messages and metadata."""
    out: dict[str, object] = {"signal": sig.kind, "sr": sig.sr, "frames": sig.frames}
    if sig.freqs:
        out["freqs"] = list(sig.freqs)
    if sig.kind != "silence":
        out["amplitude"] = sig.amplitude
    if sig.kind == "chirp":
        out["sweep"] = sig.sweep
    if sig.kind in NOISES:
        out["seed"] = sig.seed
    out["channels"] = sig.channels
    return out


__all__ = [
    "SIGNALS",
    "Signal",
    "blocks",
    "chirp",
    "describe",
    "make",
    "noise",
    "peak",
    "render",
    "silence",
    "tone",
]
