"""What ``train``, ``evaluate``, ``predict`` and ``anomaly`` read: feature tables or audio.

INPUTS are either feature tables (``.parquet``, ``.csv``, ``.tsv``, ``.jsonl``
files made by ``audiokit features``) or audio (files, class folders
``data/<class>/*.wav``, globs, ``-``), whose features are computed here with the
feature options, on the batch engine.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from audiokit.cli.common import BatchRun
from audiokit.cli.options import BatchOptions
from audiokit.errors import UsageError
from audiokit.features import extract_file
from audiokit.features.blocks import single_thread_blas
from audiokit.features.schema import FeatureParams, summary_columns
from audiokit.features.warm import warm_up
from audiokit.inputs import Input
from audiokit.models import data
from audiokit.writers import TABLE_FORMATS

F = Callable[..., Any]


def label_options(func: F) -> F:
    """``--label-column``, ``--label-pattern``, ``--group-column``, ``--group-pattern``."""
    opts = [
        click.option(
            "--label-column",
            default="label",
            show_default=True,
            metavar="COLUMN",
            help="Table inputs: the column holding each row's class.",
        ),
        click.option(
            "--label-pattern",
            metavar="REGEX",
            help="Take the class from each file name instead: the first group of REGEX "
            "(e.g. '^(\\d+)_' for 7_jackson_2.wav). Audio inputs default to the parent folder.",
        ),
        click.option(
            "--group-column",
            metavar="COLUMN",
            help="Table inputs: rows sharing a value (speaker, session, machine) stay on "
            "one side of every split (grouped cross-validation).",
        ),
        click.option(
            "--group-pattern",
            metavar="REGEX",
            help="Groups from each file name instead: the first group of REGEX "
            "(e.g. '^\\d+_([a-z]+)_' for the speaker of 7_jackson_2.wav).",
        ),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


@dataclass(frozen=True)
class Labels:
    """Where labels and groups come from (see :func:`label_options`)."""

    column: str | None = "label"
    pattern: str | None = None
    group_column: str | None = None
    group_pattern: str | None = None

    @classmethod
    def pop(cls, kw: dict[str, Any]) -> Labels:
        return cls(
            kw.pop("label_column", "label"),
            kw.pop("label_pattern", None),
            kw.pop("group_column", None),
            kw.pop("group_pattern", None),
        )


def is_table(path: str) -> bool:
    return Path(path).suffix.lower() in TABLE_FORMATS and Path(path).is_file()


def features_row(
    inp: Input, params: FeatureParams, start: float = 0.0, duration: float | None = None
) -> dict[str, Any]:

    single_thread_blas()
    result = extract_file(inp.path, params, start=start, duration=duration)
    (row,) = result.rows({"path": inp.display, "label": inp.folder})
    return row


def load(
    batch: BatchOptions,
    params: FeatureParams,
    labels: Labels,
    *,
    desc: str,
    start: float = 0.0,
    duration: float | None = None,
) -> tuple[data.Dataset, BatchRun | None]:
    """The dataset of the command's inputs (tables read, or audio computed).

    Returns the batch run too when audio was computed (its failures count in the
    exit status), else None.

    Raises
    ------
    UsageError
        Tables and audio mixed, tables whose columns differ, groups asked of audio
        without ``--group-pattern``.
    """
    tables = [p for p in batch.paths if is_table(p)]
    if tables and len(tables) != len(batch.paths):
        raise UsageError("give feature tables or audio, not both")
    if tables:
        parts = [
            data.from_table(
                t,
                label_column=labels.column,
                group_column=labels.group_column,
                label_pattern=labels.pattern,
                group_pattern=labels.group_pattern,
            )
            for t in tables
        ]
        return _concat(parts), None
    if labels.group_column is not None:
        raise UsageError("--group-column names a table column: for audio use --group-pattern")
    run = BatchRun(batch, desc=desc)
    task = functools.partial(features_row, params=params, start=start, duration=duration)
    rows = [r.value for r in run.run(task, warm_up=functools.partial(warm_up, params))]
    columns = ["path", *summary_columns(params)]
    params_json = _params_json(params)
    ds = data.from_rows(
        rows,
        columns,
        label_column="label" if labels.pattern is None else None,
        label_pattern=labels.pattern,
        group_pattern=labels.group_pattern,
        params=params_json,
        where="the audio inputs",
    )
    return ds, run


def _params_json(params: FeatureParams) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(params.to_json())
    return out


def params_of(params: FeatureParams) -> dict[str, Any]:
    """The feature parameters as stored in tables and models."""
    return _params_json(params)


def _concat(parts: list[data.Dataset]) -> data.Dataset:
    first = parts[0]
    for p in parts[1:]:
        if p.columns != first.columns:
            raise UsageError("the feature tables have different columns")
        if p.params != first.params:
            raise UsageError("the feature tables were made with different parameters")
    if len(parts) == 1:
        return first

    def join(attr: str) -> list[str] | None:
        values = [getattr(p, attr) for p in parts]
        if any(v is None for v in values):
            return None
        return [x for v in values for x in v]

    return data.Dataset(
        np.vstack([p.X for p in parts]),
        first.columns,
        [x for p in parts for x in p.paths],
        join("labels"),
        join("groups"),
        first.params,
    )
