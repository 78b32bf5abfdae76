"""Which steps run, in which order, with which settings: the :class:`Plan`.

The default order is :data:`DEFAULT_ORDER`::

    channels -> sr -> trim -> remove-silence -> denoise -> highpass -> lowpass
    -> preemphasis -> gain -> normalize -> pad-to -> trim-to -> segment -> fade

``--chain "step,step,..."`` gives another order. It must list every enabled
step, and naming a step enables it when it needs no value (``mono``, ``trim``,
``remove-silence``, ``denoise``, ``preemphasis`` (0.97), ``normalize`` (peak),
``fade`` (10 ms)). Steps after ``segment`` apply to each segment.

What each step is (names, options, checks, functions) is in the table
:data:`audiokit.preprocess.registry.STEPS`; this module only reads it. It
imports nothing heavy: the CLI builds plans at start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from audiokit import limits as lim
from audiokit.errors import UsageError
from audiokit.preprocess.registry import (
    ALIASES,
    DEFAULT_ORDER,
    DEFAULT_TARGETS,
    NORMALIZE_MODES,
    OPTIONS,
    STEPS,
    fmt_value,
    step,
)
from audiokit.preprocess.spec import holds

__all__ = [
    "ALIASES",
    "DEFAULT_ORDER",
    "NORMALIZE_MODES",
    "Plan",
    "build_plan",
    "canonical",
    "check",
    "enabled_steps",
    "parse_chain",
    "settings_from",
]


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
        if self.target is not None:
            return self.target
        return DEFAULT_TARGETS.get(self.normalize or "peak", -1.0)

    @property
    def exact(self) -> bool:
        """True when no enabled step changes sample values (pure cutting and padding)."""
        return all(holds(step(s).exact, self) for s in self.steps)

    def for_input(self, samplerate: int, channels: int) -> Plan:
        """This plan without the steps that would leave this input as it is.

        A resample to the rate it has, a mono mix (or channel 0) of a mono file, a 0 dB
        gain and a 0 pre-emphasis change nothing: dropped, the samples pass bit for bit
        (and are not dithered, see :attr:`exact`).
        """
        kept = tuple(
            s
            for s in self.steps
            if (idle := step(s).idle) is None or not idle(self, samplerate, channels)
        )
        return self if kept == self.steps else replace(self, steps=kept)

    @property
    def blockable(self) -> bool:
        """True when the streaming path can run this plan: block steps, then the output end.

        The steps that run at the output end (pad-to, trim-to, segment, fade) must come
        last, in the default order.
        """
        sinks = [s for s in DEFAULT_ORDER if step(s).sink]
        seen_sink = False
        sink_pos = -1
        for s in self.steps:
            st = step(s)
            if not st.streams(self):
                return False
            if st.sink:
                seen_sink = True
                if sinks.index(s) < sink_pos:
                    return False
                sink_pos = sinks.index(s)
            elif seen_sink:
                return False
        return True

    def describe(self) -> list[str]:
        """Each step with its setting, e.g. ``["channels=mono", "sr=16000", ...]``."""
        return [f"{s}={fmt_value(step(s).describe(self))}" for s in self.steps]


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
    return {s.name for s in STEPS if s.is_enabled(p)}


_PLAN_FIELDS = frozenset(f.name for f in fields(Plan))


def settings_from(values: Mapping[str, Any]) -> tuple[Plan, set[str]]:
    """The plan settings and the switched-on steps from option values.

    Parameters
    ----------
    values
        Each step option's value under its :attr:`~audiokit.preprocess.registry.Option.key`
        (as click passes them; missing ones take their defaults).

    Returns
    -------
    settings : Plan
        With ``steps`` empty (see :func:`build_plan`).
    flags : set of str
        Steps turned on by their switch (``--trim``, ``--remove-silence``, ``--denoise``).
    """
    kw: dict[str, Any] = {}
    flags = set()
    for st in STEPS:
        for opt in st.options:
            value = values.get(opt.key, opt.default)
            if opt.kind == "switch":
                if value:
                    flags.add(st.name)
                continue
            kw.update(opt.fields(value))
    unknown = set(kw) - _PLAN_FIELDS
    if unknown:  # pragma: no cover - a table entry without its Plan field
        raise TypeError(f"Plan has no field(s) {', '.join(sorted(unknown))}")
    return Plan(**kw), flags


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
        order = []
        for written, name in parse_chain(chain):
            if name not in on:
                st = step(name)
                need = st.needs.get(written)
                if need is not None:
                    raise UsageError(f"--chain names {written!r} but it needs {need}")
                need = st.needs.get("")
                if need is not None:
                    raise UsageError(f"--chain names {name!r} but it needs {need}")
                p = replace(p, **st.by_name)
                on.add(name)
            order.append(name)
        missing = [s for s in DEFAULT_ORDER if s in on and s not in order]
        if missing:
            raise UsageError(f"--chain must list every enabled step; missing: {', '.join(missing)}")
        steps = tuple(order)
    else:
        steps = tuple(s for s in DEFAULT_ORDER if s in on)
    p = replace(p, steps=steps)
    check(p)
    return p


def check(p: Plan) -> None:
    """Every step's checks (whether enabled or not), then its options' ranges, then the rest.

    Raises
    ------
    UsageError
        A value that makes no sense, or would take the machine down (see
        :mod:`audiokit.limits`).
    """
    for st in STEPS:
        if st.precheck is not None:
            st.precheck(p)
    for opt in OPTIONS:
        if opt.limit is not None and opt.target is not None:
            lim.check_range(opt.flag, getattr(p, opt.target), *opt.limit)
    for st in STEPS:
        if st.check is not None:
            st.check(p)
