"""The measurements behind a report: inspect's rows, computed on the batch engine or kept.

A report measures every input exactly as ``audiokit inspect --loudness`` does (the same
measurement and the same row). With ``--update`` the rows are also written, through the
output layer's :class:`~audiokit.output.tables.TableSink`, to an inspect table beside the report
(:func:`table_path`: ``report.html`` -> ``report.inspect.parquet``); a re-run keeps the rows
of the inputs unchanged since (same path, size, modification time and options) and measures
only the others. The table is an ordinary inspect table: its state (the ``audiokit.state``
metadata) is the one ``inspect --update`` keeps, with the same identity, so the two commands
can share it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audiokit.batch import Success
from audiokit.inputs import Input
from audiokit.models.data import read_table

#: Rows of one input, as inspect makes them.
Row = Mapping[str, Any]

#: Suffix of the inspect table kept beside a report for ``--update``.
TABLE_SUFFIX = ".inspect.parquet"


def table_path(report: str | os.PathLike[str]) -> Path:
    """Where ``--update`` keeps the rows of ``report`` (``a/r.html`` -> ``a/r.inspect.parquet``)."""
    p = Path(report)
    return p.with_name(p.stem + TABLE_SUFFIX)


@dataclass(frozen=True)
class Collected:
    """The rows of a report's inputs.

    Attributes
    ----------
    rows : list of dict
        One inspect row per input that was measured or kept, in input order.
    inputs : list of Input
        The input of each row.
    measured : int
        Inputs measured in this run.
    kept : int
        Inputs whose rows came from the table (``--update``).
    """

    rows: list[Row]
    inputs: list[Input]
    measured: int
    kept: int


def collect(
    inputs: Sequence[Input],
    task: Callable[[Input], Row],
    run: Callable[[Callable[[Input], Row], Sequence[Input]], Iterable[Success[Row]]],
    sink: Any = None,
) -> Collected:
    """Measure ``inputs`` (those the sink does not keep) and gather every row in input order.

    Parameters
    ----------
    inputs
        The report's inputs.
    task
        The picklable task (:func:`audiokit.inspection.inspect_row`, levels and loudness on).
    run
        Runs the task over inputs on the batch engine and yields the successes in order
        (the command's ``BatchRun.run``; failures are its to report).
    sink
        A :class:`~audiokit.output.tables.TableSink` over :func:`table_path` for
        ``--update`` (None: every input is measured and nothing is stored).

    Returns
    -------
    Collected
    """
    computed: dict[str, Row] = {}
    if sink is None:
        todo = list(inputs)
        for res in run(task, todo):
            computed[res.input.path] = res.value
    else:
        with sink:
            todo = sink.open(inputs)
            for res in run(task, todo):
                computed[res.input.path] = res.value
                sink.add(res.input, [res.value])
    rows: list[Row] = []
    order: list[Input] = []
    asked = {inp.path for inp in todo}
    stored = _stored(sink) if sink is not None and len(asked) < len(inputs) else {}
    kept = 0
    for inp in inputs:
        row = computed.get(inp.path)
        if row is None and inp.path not in asked:
            row = stored.get(inp.display)
            kept += row is not None
        if row is not None:
            rows.append(row)
            order.append(inp)
    return Collected(rows, order, len(computed), kept)


def _stored(sink: Any) -> dict[str, Row]:
    """The rows of the sink's table on disk, by path (read once the sink is closed)."""
    target = sink.tables[0].target
    if target is None or not Path(target).exists():
        return {}
    rows, _, _ = read_table(target)
    return {str(r.get("path")): r for r in rows}
