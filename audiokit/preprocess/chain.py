"""Which steps run, in which order, with which settings: the :class:`Plan`.

The default order is :data:`DEFAULT_ORDER`::

    channels -> sr -> trim -> remove-silence -> denoise -> highpass -> lowpass
    -> preemphasis -> gain -> normalize -> pad-to -> trim-to -> segment -> fade

``--chain "step,step,..."`` gives another order. It must list every enabled
step, and naming a step enables it when it needs no value (``mono``, ``trim``,
``remove-silence``, ``denoise``, ``preemphasis`` (0.97), ``normalize`` (peak),
``fade`` (10 ms)). Steps after ``segment`` apply to each segment.

This module imports nothing heavy: the CLI builds plans at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from audiokit.errors import UsageError

DEFAULT_ORDER: tuple[str, ...] = (
    "channels",
    "sr",
    "trim",
    "remove-silence",
    "denoise",
    "highpass",
    "lowpass",
    "preemphasis",
    "gain",
    "normalize",
    "pad-to",
    "trim-to",
    "segment",
    "fade",
)

#: Other names --chain accepts for a step.
ALIASES = {
    "mono": "channels",
    "channel": "channels",
    "resample": "sr",
    "rate": "sr",
    "silence": "remove-silence",
    "remove_silence": "remove-silence",
    "hp": "highpass",
    "lp": "lowpass",
    "normalise": "normalize",
    "norm": "normalize",
    "pad_to": "pad-to",
    "trim_to": "trim-to",
    "pad": "pad-to",
    "segments": "segment",
}

#: Steps that work block by block with state carried across blocks (streaming path).
BLOCK_STEPS = frozenset(
    {"channels", "sr", "highpass", "lowpass", "preemphasis", "gain", "normalize"}
)
#: Steps the streaming path runs at its output end (they must come last, in this order).
SINK_STEPS = ("pad-to", "trim-to", "segment", "fade")
#: Steps that keep the samples exactly as decoded (no dither needed when the depth is kept).
EXACT_STEPS = frozenset({"trim", "remove-silence", "pad-to", "trim-to", "segment"})

NORMALIZE_MODES = ("peak", "rms", "loudness")


@dataclass(frozen=True)
class Plan:
    """Enabled steps in order, and their settings.

    Attributes
    ----------
    steps : tuple of str
        Enabled steps, in the order they run (names from :data:`DEFAULT_ORDER`).
    mono : bool
        Average the channels.
    channel : int or None
        Keep only this channel (0 = first).
    sr : int or None
        Target rate (Hz).
    top_db : float
        Silence threshold for trim and remove-silence (dB below the loudest frame).
    pad_ms : float
        Margin kept around voiced parts by trim and remove-silence.
    denoise_strength : float
        0..1.
    highpass, lowpass : float or None
        Cutoffs (Hz).
    preemphasis : float or None
        Coefficient.
    gain_db : float or None
        Fixed gain.
    normalize : str or None
        ``peak``, ``rms`` or ``loudness``.
    target : float or None
        Normalisation target (dBFS, LUFS for loudness); None: mode default.
    ceiling : float
        Highest peak normalisation may produce (dBFS).
    limit : bool
        Reach the target with a limiter rather than lowering the gain.
    pad_to, trim_to : float or None
        Exact length (s).
    segment, overlap : float or None, float
        Segment length and overlap (s).
    fade_ms : float or None
        Fade-in/out length.
    """

    steps: tuple[str, ...] = ()
    mono: bool = False
    channel: int | None = None
    sr: int | None = None
    top_db: float = 60.0
    pad_ms: float = 50.0
    denoise_strength: float = 0.8
    highpass: float | None = None
    lowpass: float | None = None
    preemphasis: float | None = None
    gain_db: float | None = None
    normalize: str | None = None
    target: float | None = None
    ceiling: float = -0.1
    limit: bool = False
    pad_to: float | None = None
    trim_to: float | None = None
    segment: float | None = None
    overlap: float = 0.0
    fade_ms: float | None = None

    @property
    def target_level(self) -> float:
        """The normalisation target, with the mode's default filled in."""
        from audiokit.preprocess.loudness import DEFAULT_TARGETS

        if self.target is not None:
            return self.target
        return DEFAULT_TARGETS.get(self.normalize or "peak", -1.0)

    @property
    def exact(self) -> bool:
        """True when no enabled step changes sample values (pure cutting and padding)."""
        return all(
            s in EXACT_STEPS or (s == "channels" and self.channel is not None) for s in self.steps
        )

    def for_input(self, samplerate: int, channels: int) -> Plan:
        """This plan without the steps that would leave this input as it is.

        A resample to the rate it has, a mono mix (or channel 0) of a mono file, a 0 dB
        gain and a 0 pre-emphasis change nothing: dropped, the samples pass bit for bit
        (and are not dithered, see :attr:`exact`).
        """
        idle = set()
        if self.sr == samplerate:
            idle.add("sr")
        if channels == 1 and (self.mono or self.channel == 0):
            idle.add("channels")
        if self.gain_db == 0:
            idle.add("gain")
        if self.preemphasis == 0:
            idle.add("preemphasis")
        if not idle & set(self.steps):
            return self
        return replace(self, steps=tuple(s for s in self.steps if s not in idle))

    @property
    def blockable(self) -> bool:
        """True when the streaming path can run this plan (blocks, then the output end)."""
        if self.limit and "normalize" in self.steps:
            return False
        seen_sink = False
        sink_pos = -1
        for s in self.steps:
            if s in BLOCK_STEPS:
                if seen_sink:
                    return False
            elif s in SINK_STEPS:
                seen_sink = True
                pos = SINK_STEPS.index(s)
                if pos < sink_pos:
                    return False
                sink_pos = pos
            else:
                return False
        return True

    def describe(self) -> list[str]:
        """Each step with its setting, e.g. ``["channels=mono", "sr=16000", ...]``."""
        out = []
        for s in self.steps:
            value = {
                "channels": "mono" if self.channel is None else f"channel {self.channel}",
                "sr": self.sr,
                "trim": f"{self.top_db:g} dB",
                "denoise": self.denoise_strength,
                "remove-silence": f"{self.top_db:g} dB",
                "highpass": self.highpass,
                "lowpass": self.lowpass,
                "preemphasis": self.preemphasis,
                "gain": self.gain_db,
                "normalize": f"{self.normalize} {self.target_level:g}",
                "pad-to": self.pad_to,
                "trim-to": self.trim_to,
                "segment": self.segment if not self.overlap else f"{self.segment}/{self.overlap}",
                "fade": self.fade_ms,
            }.get(s)
            out.append(f"{s}={value:g}" if isinstance(value, float) else f"{s}={value}")
        return out


def canonical(name: str) -> str:
    """A step's canonical name, or UsageError for an unknown one."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in DEFAULT_ORDER:
        known = ", ".join(DEFAULT_ORDER)
        raise UsageError(f"unknown step {name.strip()!r} in --chain (steps: {known})")
    return key


def parse_chain(text: str) -> list[tuple[str, str]]:
    """``"mono,sr,normalize"`` -> ``[("mono", "channels"), ...]`` (as written, canonical)."""
    items = [t.strip() for t in text.replace(">", ",").split(",") if t.strip()]
    if not items:
        raise UsageError("--chain is empty")
    out = [(t.lower(), canonical(t)) for t in items]
    seen = set()
    for _, c in out:
        if c in seen:
            raise UsageError(f"step {c!r} appears twice in --chain")
        seen.add(c)
    return out


def enabled_steps(p: Plan) -> set[str]:
    """Steps whose options are set."""
    on = {
        "channels": p.mono or p.channel is not None,
        "sr": p.sr is not None,
        "highpass": p.highpass is not None,
        "lowpass": p.lowpass is not None,
        "preemphasis": p.preemphasis is not None,
        "gain": p.gain_db is not None,
        "normalize": p.normalize is not None,
        "pad-to": p.pad_to is not None,
        "trim-to": p.trim_to is not None,
        "segment": p.segment is not None,
        "fade": p.fade_ms is not None,
    }
    return {k for k, v in on.items() if v}


#: What naming a step in --chain sets when its option was not given.
_ENABLE_BY_NAME = {
    "channels": {"mono": True},
    "preemphasis": {"preemphasis": 0.97},
    "normalize": {"normalize": "peak"},
    "fade": {"fade_ms": 10.0},
}
_NEEDS_VALUE = {
    "sr": "--sr RATE",
    "highpass": "--highpass HZ",
    "lowpass": "--lowpass HZ",
    "gain": "--gain DB",
    "pad-to": "--pad-to SECONDS",
    "trim-to": "--trim-to SECONDS",
    "segment": "--segment SECONDS",
}


def build_plan(settings: Plan, flags: set[str], chain: str | None = None) -> Plan:
    """Order the enabled steps (default order, or ``chain``) and check the settings.

    Parameters
    ----------
    settings
        A :class:`Plan` with the options filled in and ``steps`` empty.
    flags
        Flag steps turned on by the command line (``trim``, ``remove-silence``, ``denoise``).
    chain
        ``--chain`` text, or None for :data:`DEFAULT_ORDER`.

    Raises
    ------
    UsageError
    """
    p = settings
    on = enabled_steps(p) | set(flags)
    if chain:
        listed = parse_chain(chain)
        order = []
        for written, step in listed:
            if step not in on:
                if step in _NEEDS_VALUE:
                    raise UsageError(f"--chain names {step!r} but it needs {_NEEDS_VALUE[step]}")
                if step == "channels" and written == "channel":
                    raise UsageError("--chain names 'channel' but it needs --channel N")
                p = replace(p, **_ENABLE_BY_NAME.get(step, {}))  # type: ignore[arg-type]
                on.add(step)
            order.append(step)
        missing = [s for s in DEFAULT_ORDER if s in on and s not in order]
        if missing:
            raise UsageError(f"--chain must list every enabled step; missing: {', '.join(missing)}")
        steps = tuple(order)
    else:
        steps = tuple(s for s in DEFAULT_ORDER if s in on)
    p = replace(p, steps=steps)
    _check(p)
    return p


def _check(p: Plan) -> None:
    if p.mono and p.channel is not None:
        raise UsageError("--mono and --channel exclude each other")
    if p.channel is not None and p.channel < 0:
        raise UsageError("--channel counts from 0 and cannot be negative")
    if p.normalize is not None and p.normalize not in NORMALIZE_MODES:
        raise UsageError(f"--normalize must be one of {', '.join(NORMALIZE_MODES)}")
    if p.target is not None and p.normalize is None:
        raise UsageError("--target needs --normalize peak|rms|loudness")
    if p.normalize == "peak" and p.target_level > p.ceiling:
        raise UsageError(
            f"--target {p.target_level:g} dBFS is above the ceiling ({p.ceiling:g} dBFS)"
        )
    if p.ceiling > 0:
        raise UsageError("--ceiling must be at most 0 dBFS")
    _check_ranges(p)
    if p.segment is not None:
        if p.segment <= 0 or p.overlap < 0 or p.overlap >= p.segment:
            raise UsageError("--segment must be positive and longer than --overlap (>= 0)")
    elif p.overlap:
        raise UsageError("--overlap needs --segment")
    for name, v in (("--pad-to", p.pad_to), ("--fade-ms", p.fade_ms)):
        if v is not None and v < 0:
            raise UsageError(f"{name} cannot be negative")
    if p.trim_to is not None and p.trim_to <= 0:
        raise UsageError("--trim-to must be positive")
    if not 0.0 <= p.denoise_strength <= 1.0:
        raise UsageError("--denoise-strength must be between 0 and 1")
    if p.preemphasis is not None and not 0.0 <= p.preemphasis < 1.0:
        raise UsageError("--preemphasis must be in [0, 1)")
    for name, v in (("--highpass", p.highpass), ("--lowpass", p.lowpass)):
        if v is not None and v <= 0:
            raise UsageError(f"{name} must be a positive frequency")
    if p.top_db <= 0:
        raise UsageError("--top-db must be positive")
    if p.pad_ms < 0:
        raise UsageError("--pad-ms cannot be negative")


def _check_ranges(p: Plan) -> None:
    """Values that would make no sense, or take the machine down (see :mod:`audiokit.limits`)."""
    from audiokit import limits as lim

    lim.check_range("--segment", p.segment, lim.SEGMENT_MIN, lim.DURATION_MAX, "s")
    for name, seconds in (("--pad-to", p.pad_to), ("--trim-to", p.trim_to)):
        lim.check_range(name, seconds, 0.0, lim.DURATION_MAX, "s")
    lim.check_range("--fade-ms", p.fade_ms, 0.0, 60_000.0, "ms")
    lim.check_range("--pad-ms", p.pad_ms, 0.0, 60_000.0, "ms")
    lim.check_range("--top-db", p.top_db, 0.0, 200.0, "dB")
    lim.check_range("--gain", p.gain_db, -lim.GAIN_MAX, lim.GAIN_MAX, "dB")
    lim.check_range("--ceiling", p.ceiling, -60.0, 0.0, "dBFS")
    if p.normalize is not None and p.target is not None:
        if p.normalize == "loudness":
            lim.check_range("--target", p.target, lim.LOUDNESS_MIN, 0.0, "LUFS")
        else:
            lim.check_range("--target", p.target, lim.LEVEL_MIN, 0.0, "dBFS")
    for name, hz in (("--highpass", p.highpass), ("--lowpass", p.lowpass)):
        lim.check_range(name, hz, 0.0, lim.FREQ_MAX, "Hz")
        if hz is not None and p.sr is not None and hz >= p.sr / 2:
            raise UsageError(
                f"{name} {hz:g} Hz must be below the Nyquist frequency of --sr {p.sr} "
                f"({p.sr / 2:g} Hz)"
            )
    if p.highpass is not None and p.lowpass is not None and p.highpass >= p.lowpass:
        raise UsageError(
            f"--highpass {p.highpass:g} Hz must be below --lowpass {p.lowpass:g} Hz "
            "(they would remove everything)"
        )
