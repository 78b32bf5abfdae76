"""Files checked against rules over the ``inspect`` columns: the service of ``audiokit check``.

Rules are parsed by :mod:`audiokit.rules` (the grammar is there). Here:

- :data:`PRESETS`, the named lists of rules of ``--preset``, and :func:`build_rules`;
- :func:`needs`: which measurements the rules need (headers only, levels, loudness;
  whether a rule uses ``mode()`` and so waits for every file);
- :func:`evaluate` and :func:`breaches`: a file's row against the rules.

Semantics:

- ``mode()`` is the most common value of the column over all the files checked (ties:
  the earlier file's): ``samplerate == mode()`` finds the files whose rate differs
  from the rest. Files that failed to read do not count.
- A comparison with a missing value (NaN, e.g. the loudness of a file shorter than
  400 ms; or null, e.g. the bit depth of an Ogg file) is false, so the rule breaks:
  a gate does not pass what it could not measure. ``not`` negates the result.
- Strings compare without regard to case.
"""

from __future__ import annotations

import difflib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiokit.errors import UsageError
from audiokit.inspection import LEVEL_KEYS, LOUDNESS_KEYS
from audiokit.rules import BoolOp, Mode, Node, Not, Rule, parse_rule

# ------------------------------------------------------------------------ presets


@dataclass(frozen=True)
class Preset:
    """A named list of rules."""

    help: str
    rules: tuple[str, ...]


#: The presets of ``--preset``: the tutorials' dataset pitfalls and two common gates.
PRESETS: dict[str, Preset] = {
    "training": Preset(
        "a training set: one sample rate (the most common), mono, no clipping, at least "
        "0.5 s, at most half silence, no DC offset",
        (
            "samplerate == mode()",
            "channels == 1",
            "clipped_fraction < 0.001",
            "duration >= 0.5",
            "silent_fraction < 0.5",
            "abs(dc_offset) < 0.01",
        ),
    ),
    "consistent": Preset(
        "every file shares the most common sample rate, channel count and encoding "
        "(headers only: fast)",
        ("samplerate == mode()", "channels == mode()", "subtype == mode()"),
    ),
    "ebu-r128": Preset(
        "broadcast delivery (EBU R128): -23 LUFS within 1 LU, true peak at most -1 dBTP",
        ("loudness_lufs >= -24", "loudness_lufs <= -22", "true_peak_dbtp <= -1"),
    ),
}


def build_rules(rules: Sequence[str], presets: Sequence[str]) -> list[Rule]:
    """The rules of ``--preset`` (in order) then of ``--rule``, parsed.

    Raises
    ------
    UsageError
        No rule at all, an unknown preset, or a malformed rule.
    """
    texts: list[str] = []
    for name in presets:
        if name not in PRESETS:
            close = difflib.get_close_matches(name, list(PRESETS), n=3, cutoff=0.4)
            hint = (
                f"did you mean {', '.join(close)}?" if close else f"presets: {', '.join(PRESETS)}"
            )
            raise UsageError(f"unknown preset {name!r} ({hint})")
        texts += PRESETS[name].rules
    texts += rules
    if not texts:
        raise UsageError("no rules: give --rule EXPR or --preset NAME")
    return [parse_rule(t) for t in dict.fromkeys(texts)]


@dataclass(frozen=True)
class Needs:
    """What the measurements must include for a set of rules."""

    levels: bool
    loudness: bool
    dataset: bool


def needs(rules: Iterable[Rule]) -> Needs:
    """Decode only when a rule names a level column; measure loudness only when one names
    a loudness column; wait for every file when one uses ``mode()``."""
    rules = list(rules)
    columns = {c for r in rules for c in r.columns}
    loudness = bool(columns & set(LOUDNESS_KEYS))
    return Needs(
        levels=loudness or bool(columns & set(LEVEL_KEYS)),
        loudness=loudness,
        dataset=any(r.mode_columns for r in rules),
    )


# --------------------------------------------------------------------- evaluation


def modes(rows: Iterable[Mapping[str, Any]], columns: Iterable[str]) -> dict[str, Any]:
    """The most common non-missing value of each column (ties: the earlier row's)."""
    rows = list(rows)
    out: dict[str, Any] = {}
    for column in dict.fromkeys(columns):
        counts: Counter[Any] = Counter()
        first: dict[Any, Any] = {}  # key -> the value as the first file spelled it
        for row in rows:
            value = row.get(column)
            if not _missing(value):
                counts[_key(value)] += 1
                first.setdefault(_key(value), value)
        out[column] = first[counts.most_common(1)[0][0]] if counts else None
    return out


def _key(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _compare(left: Any, op: str, right: Any) -> bool:
    if _missing(left) or _missing(right):
        return False
    if isinstance(left, str) or isinstance(right, str):
        left, right = str(left).lower(), str(right).lower()
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def evaluate(node: Node, row: Mapping[str, Any], mode_values: Mapping[str, Any]) -> bool:
    """Whether ``row`` satisfies ``node`` (``mode_values``: :func:`modes` of the files)."""
    if isinstance(node, BoolOp):
        results = (evaluate(n, row, mode_values) for n in node.operands)
        return all(results) if node.op == "and" else any(results)
    if isinstance(node, Not):
        return not evaluate(node.operand, row, mode_values)
    value: Any = row.get(node.column)
    if node.absolute and value is not None:
        value = abs(value)
    values = [mode_values.get(node.column) if isinstance(v, Mode) else v for v in node.values]
    if node.op in ("in", "not in"):
        if _missing(value):
            return False
        found = any(_compare(value, "==", v) for v in values)
        return found if node.op == "in" else not found
    return _compare(value, node.op, values[0])


@dataclass(frozen=True)
class Breach:
    """One file breaking one rule.

    Attributes
    ----------
    path : str
    rule : str
        The rule as written.
    values : dict
        The file's value of each column the rule names.
    modes : dict
        The ``mode()`` of the columns the rule compares with it.
    """

    path: str
    rule: str
    values: dict[str, Any]
    modes: dict[str, Any]

    def line(self) -> str:
        """``PATH: RULE (column = value, ...)``."""
        parts = [f"{c} = {format_value(v)}" for c, v in self.values.items()]
        parts += [f"mode({c}) = {format_value(v)}" for c, v in self.modes.items()]
        return f"{self.path}: {self.rule} ({', '.join(parts)})"

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "rule": self.rule, "values": self.values}
        if self.modes:
            out["modes"] = self.modes
        return out


def format_value(value: Any) -> str:
    """A value as a breach line shows it: integers plainly, floats to 6 significant digits."""
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.6g}"
    return str(value)


def breaches(
    row: Mapping[str, Any], rules: Sequence[Rule], mode_values: Mapping[str, Any]
) -> list[Breach]:
    """The rules ``row`` breaks, in rule order."""
    out = []
    for rule in rules:
        if not evaluate(rule.expr, row, mode_values):
            out.append(
                Breach(
                    str(row.get("path")),
                    rule.text,
                    {c: row.get(c) for c in rule.columns},
                    {c: mode_values.get(c) for c in dict.fromkeys(rule.mode_columns)},
                )
            )
    return out
