"""The vocabulary of the step table: :class:`Step`, its :class:`Option` specs, :class:`Ref`.

Click-free: :mod:`audiokit.preprocess.registry` builds
the table :data:`~audiokit.preprocess.registry.STEPS` from these, and the CLI
turns each :class:`Option` into a click option.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from audiokit.preprocess.chain import Plan

#: Option kinds: a bool setting, a flag that turns its step on, a number, a text, a sample rate
#: (``16000``, ``22.05k``, ``native``), one of ``choices``.
KINDS = ("flag", "switch", "float", "text", "rate", "choice")


@dataclass(frozen=True)
class Ref:
    """A function or class of ``audiokit.preprocess.<module>``, imported when first used.

    Attributes
    ----------
    module : str
        Module of :mod:`audiokit.preprocess` (``"apply"``, ``"blocks"``).
    name : str
        Attribute, dotted for a class's method (``"Gain.normalized"``).
    """

    module: str
    name: str

    def get(self) -> Any:
        """The object named."""
        obj: Any = importlib.import_module(f"audiokit.preprocess.{self.module}")
        for part in self.name.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass(frozen=True)
class Option:
    """One command-line option, without click.

    Attributes
    ----------
    flag : str
        ``--name``; its value arrives as ``name`` (dashes as underscores).
    help : str
    kind : str
        One of :data:`KINDS`.
    field : str or None
        The :class:`~audiokit.preprocess.chain.Plan` field it sets (default: its name;
        None for a ``switch``).
    default : Any
    metavar : str or None
    show_default : bool
    choices : tuple of str
        For ``choice``.
    minimum, maximum, min_open
        The range the command line accepts (a click ``FloatRange``), if any.
    bare_value : float or None
        The value of the option given without one (``--preemphasis`` alone: 0.97).
    limit : tuple (low, high, unit) or None
        Range checked when the plan is built (:func:`audiokit.limits.check_range`).
    parse : callable or None
        ``value -> {field: value}`` for an option that sets other fields (``--channel``).
    """

    flag: str
    help: str
    kind: str = "float"
    field: str | None = ""
    default: Any = None
    metavar: str | None = None
    show_default: bool = False
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    bare_value: float | None = None
    limit: tuple[float, float, str] | None = None
    parse: Callable[[Any], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        """The name its value arrives under (``--top-db`` -> ``top_db``)."""
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def target(self) -> str | None:
        """The Plan field it sets (None: a switch)."""
        if self.kind == "switch":
            return None
        return self.field or self.key

    def fields(self, value: Any) -> dict[str, Any]:
        """The Plan fields this option's ``value`` sets."""
        if self.parse is not None:
            return self.parse(value)
        target = self.target
        return {} if target is None else {target: value}


#: A property of a step that may depend on the plan.
Cond: TypeAlias = "bool | Callable[[Plan], bool]"


def holds(cond: Cond, plan: Plan) -> bool:
    """``cond`` for ``plan`` (a bool, or a predicate of the plan)."""
    return cond if isinstance(cond, bool) else bool(cond(plan))


@dataclass(frozen=True)
class Step:
    """One preprocess step.

    Attributes
    ----------
    name : str
        Canonical name (``--chain``, the report's ``steps``).
    run : Ref
        The in-memory function ``(chunks, sr, plan, rep) -> (chunks, sr)``
        (:mod:`audiokit.preprocess.apply`).
    describe : callable
        ``plan -> value`` shown as ``name=value`` in the report.
    options : tuple of Option
        Its command-line options, in ``--help`` order.
    aliases : tuple of str
        Other names ``--chain`` accepts.
    enabled : callable or None
        ``plan -> bool``: its options turn it on. None: its ``switch`` option does.
    by_name : mapping
        Plan fields set when ``--chain`` names the step and its options did not enable it.
    needs : mapping
        When ``--chain`` cannot enable it by name: written name (``""``: any) -> what it
        needs (``"--sr RATE"``).
    stream : Ref or None
        A block processor's factory ``(channels, sr, plan, norm_gain) -> Processor | None``
        (:mod:`audiokit.preprocess.blocks`).
    sink : bool
        Runs at the output end of the streaming path (:class:`~audiokit.preprocess.streaming.Sink`).
    whole_signal : bool or callable
        Needs the whole signal: a plan with it never streams.
    exact : bool or callable
        Keeps the samples exactly as decoded (no dither needed).
    idle : callable or None
        ``(plan, samplerate, channels) -> bool``: it would change nothing for this input.
    precheck, check : callable or None
        ``plan -> None`` raising UsageError, before and after the options' ranges.
    """

    name: str
    run: Ref
    describe: Callable[[Plan], Any]
    options: tuple[Option, ...] = ()
    aliases: tuple[str, ...] = ()
    enabled: Callable[[Plan], bool] | None = None
    by_name: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    needs: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    stream: Ref | None = None
    sink: bool = False
    whole_signal: Cond = False
    exact: Cond = False
    idle: Callable[[Plan, int, int], bool] | None = None
    precheck: Callable[[Plan], None] | None = None
    check: Callable[[Plan], None] | None = None

    def is_enabled(self, plan: Plan) -> bool:
        """Its options are set (always False for a switch step: the switch says)."""
        return self.enabled is not None and self.enabled(plan)

    def streams(self, plan: Plan) -> bool:
        """It runs block by block (a processor, or at the output end)."""
        return (self.stream is not None or self.sink) and not holds(self.whole_signal, plan)


def frozen(items: Mapping[str, Any] | None = None, **kw: Any) -> Mapping[str, Any]:
    """A read-only mapping (for :attr:`Step.by_name` and :attr:`Step.needs`)."""
    return MappingProxyType({**(items or {}), **kw})
