"""The ``--update`` state of a table: what was computed from which inputs, with which parameters.

It is stored with the table: in the Parquet schema metadata (:data:`STATE_KEY`), or for
text formats in a hidden companion ``.<name>.audiokit-state.json`` (:func:`state_path`)
that also records the table's own size and modification time, so that an edited table
is not trusted. An input's rows are kept when its path, size and modification time
(:func:`signature`) are those recorded and the parameters (the identity) are the same;
kept rows are grouped by input as they were stored (:func:`read_rows`), to be copied.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audiokit.errors import UsageError
from audiokit.inputs import STDIN, Input
from audiokit.output.table_file import TableSpec
from audiokit.writers import TableWriter

#: Schema metadata key (Parquet) / companion file content (text formats) of the update state.
STATE_KEY = "audiokit.state"
STATE_VERSION = 1

Signature = tuple[int, int]


def state_path(target: str | os.PathLike[str]) -> Path:
    """The companion that holds the update state of a CSV/TSV/JSON-lines table."""
    target = Path(target)
    return target.parent / f".{target.name}.audiokit-state.json"


def signature(path: str) -> Signature | None:
    """(size, modification time in ns) of an input, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns)


def normal(value: Any) -> Any:
    """``value`` as it reads back from JSON (so that a stored identity compares equal)."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def parquet_schema(spec: TableSpec) -> Any:
    """The Arrow schema a table of ``spec`` is written with (a ``pyarrow.Schema``)."""
    return TableWriter(None, "parquet", columns=spec.columns, types=spec.types).schema()


@dataclass
class UpdatePlan:
    """What ``--update`` does with an existing table.

    Attributes
    ----------
    todo : list of Input
        The inputs to compute (changed, new, or without rows), in input order.
    kept : set of str
        Inputs (their ``display``) whose stored rows are copied instead.
    leftover : list of str
        Keys of stored rows of inputs not in this run, kept (without ``--prune``, or
        still on disk), in the order they were stored.
    pruned : int
        Inputs not in this run whose rows ``--prune`` drops (they no longer exist).
    old_signatures : dict of str to tuple of int
        The signatures the old state recorded, by input.
    """

    todo: list[Input] = field(default_factory=list)
    kept: set[str] = field(default_factory=set)
    leftover: list[str] = field(default_factory=list)
    pruned: int = 0
    old_signatures: dict[str, tuple[int, ...]] = field(default_factory=dict)


def plan_update(
    inputs: Sequence[Input],
    state: Mapping[str, Any],
    stored: Sequence[Mapping[str, Any]],
    *,
    prune: bool,
) -> UpdatePlan:
    """Sort the inputs of a run into kept and to compute.

    Parameters
    ----------
    inputs
        This run's inputs, in order.
    state
        The old table's state (:func:`read_state`).
    stored
        Each table's stored rows grouped by key (:func:`read_rows`). A key may be missing
        from the main table (transcribe: a silent file has a summary row but no segment
        row): an input has rows when any table holds some.
    prune
        ``--prune``: drop the rows of inputs not in this run that no longer exist.
    """
    old_inputs: dict[str, list[int]] = state.get("inputs", {})
    keys = list(dict.fromkeys(k for rows in stored for k in rows))
    have_rows = set(keys)
    current = {inp.display for inp in inputs}
    plan = UpdatePlan()
    for inp in inputs:
        sig = signature(inp.path) if inp.display != STDIN else None
        old = old_inputs.get(inp.display)
        if sig is not None and old is not None and tuple(old) == sig and inp.display in have_rows:
            plan.kept.add(inp.display)
        else:
            plan.todo.append(inp)
    for key in keys:
        if key in current:
            continue
        if prune and not os.path.exists(key):
            plan.pruned += 1
        else:
            plan.leftover.append(key)
    plan.old_signatures = {k: tuple(v) for k, v in old_inputs.items()}
    return plan


def state_record(
    inputs: Sequence[Input], identity: Mapping[str, Any], plan: UpdatePlan
) -> dict[str, Any]:
    """The state to store with the new table: the identity, and each input's signature
    (as recorded before for kept and left-over rows, as now for the rest)."""
    records: dict[str, list[int]] = {}
    old = plan.old_signatures
    for key in plan.leftover:
        if key in old:
            records[key] = list(old[key])
    for inp in inputs:
        if inp.display == STDIN:
            continue
        if inp.display in plan.kept:
            records[inp.display] = list(old[inp.display])
            continue
        sig = signature(inp.path)
        if sig is not None:
            records[inp.display] = list(sig)
    return {"version": STATE_VERSION, "identity": identity, "inputs": records}


def stamped(state_text: str, table: Path) -> str:
    """The companion's content: the state, with the size and modification time of ``table``
    (the written table) that make an edited table detectable."""
    st = os.stat(table)
    state = json.loads(state_text)
    state["table"] = [st.st_size, st.st_mtime_ns]
    return json.dumps(state, sort_keys=True)


def read_state(target: Path, fmt: str, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The state stored with the table at ``target``, checked against this run's identity.

    Raises
    ------
    UsageError
        No state, an unreadable table or companion, a text table changed since audiokit
        wrote it, or a table made with other parameters.
    """
    where = target
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(target).schema_arrow.metadata or {}
            raw = meta.get(STATE_KEY.encode())
            state = json.loads(raw) if raw else None
        else:
            where = state_path(target)
            state = json.loads(where.read_text()) if where.exists() else None
            if state is not None:
                st = os.stat(target)
                if state.get("table") != [st.st_size, st.st_mtime_ns]:
                    raise UsageError(
                        f"{target}: changed since audiokit wrote it, so --update cannot "
                        "trust it: use --overwrite"
                    )
    except UsageError:
        raise
    except (OSError, ValueError) as exc:
        raise UsageError(f"{where}: cannot read it for --update: {exc}") from None
    except Exception as exc:  # pyarrow's errors for a damaged file
        raise UsageError(f"{where}: cannot read it for --update: {exc}") from None
    if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
        raise UsageError(
            f"{target}: not an audiokit table that --update can extend "
            "(no state recorded): use --overwrite"
        )
    old = state.get("identity", {})
    if old != identity:
        diff = differences(old, identity)
        raise UsageError(
            f"{target}: made with other parameters ({diff}): use the same options, "
            "or --overwrite to start again"
        )
    return state


def read_rows(target: Path, fmt: str, spec: TableSpec) -> dict[str, Any]:
    """The rows of the old table grouped by input (the ``spec.key`` column), as stored.

    Returns
    -------
    dict
        Key to ``(pyarrow.Table, row indices)`` (Parquet), to JSON lines (``jsonl``), or
        to lists of CSV/TSV cells.

    Raises
    ------
    UsageError
        The table cannot be read, or its columns differ from ``spec``'s.
    """
    key = spec.key
    groups: dict[str, Any] = {}
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.ParquetFile(target).read()  # (read_table imports pyarrow.dataset)
            expected = parquet_schema(spec)
            if not table.schema.remove_metadata().equals(expected.remove_metadata()):
                raise UsageError(
                    f"{target}: its columns differ from this command's: use --overwrite"
                )
            idx: dict[str, list[int]] = {}
            for i, k in enumerate(table.column(key).to_pylist()):
                idx.setdefault(k, []).append(i)
            for k, rows in idx.items():
                groups[k] = (table, rows)
        elif fmt == "jsonl":
            with open(target, encoding="utf-8") as fh:
                for line in fh:
                    line = line.rstrip("\n")
                    if line:
                        groups.setdefault(json.loads(line).get(key), []).append(line)
        else:
            with open(target, newline="", encoding="utf-8") as fh:
                reader = csv.reader(fh, delimiter="\t" if fmt == "tsv" else ",")
                header = next(reader, None)
                if header != list(spec.columns):
                    raise UsageError(
                        f"{target}: its columns differ from this command's: use --overwrite"
                    )
                k = header.index(key)
                for rec in reader:
                    groups.setdefault(rec[k], []).append(rec)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"{target}: cannot read it for --update: {exc}") from None
    return groups


def differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """The parameters that differ, ``name: old -> new`` (at most four)."""
    keys = sorted(set(old) | set(new))
    parts = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys if old.get(k) != new.get(k)]
    return "; ".join(parts[:4]) + ("; ..." if len(parts) > 4 else "") if parts else "unknown"
