"""Feature matrices for the models: from feature tables, or from rows computed from audio.

A :class:`Dataset` is what training and scoring take: the matrix ``X`` (one row
per file, the feature columns of a summary table), the files' paths, and
optionally their labels and groups. Labels and groups come from table columns
(``label`` by default: ``features --label-from-parent``), from the file's folder,
or from a regular expression on its name (``--label-pattern '^(\\d+)_'`` for the
Free Spoken Digit Dataset's ``7_jackson_2.wav``).
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audiokit.errors import InputError, UsageError
from audiokit.writers import table_format

#: Columns of a features table that are not features.
META_COLUMNS = frozenset(
    {"path", "label", "duration", "sample_rate", "frame", "time", "segment", "start", "end"}
)
PARAMS_KEY = "audiokit.features.params"
OPTIONS_KEY = "audiokit.features.options"


@dataclass
class Dataset:
    """Rows to train on or to score.

    Attributes
    ----------
    X : np.ndarray, shape (n, d), float64
    columns : list of str, length d
    paths : list of str, length n
    labels : list of str or None
    groups : list of str or None
    params : dict or None
        The feature parameters recorded with the table (None: unknown).
    """

    X: np.ndarray
    columns: list[str]
    paths: list[str]
    labels: list[str] | None = None
    groups: list[str] | None = None
    params: dict[str, Any] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        """Rows per label."""
        out: dict[str, int] = {}
        for lab in self.labels or []:
            out[lab] = out.get(lab, 0) + 1
        return dict(sorted(out.items()))


def _float(v: Any) -> float:
    if v is None or v == "":
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def read_table(path: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[str], dict]:
    """Rows, column names and (Parquet) schema metadata of a table file."""
    name = os.fspath(path)
    fmt = table_format(name)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(name)
            table = pf.read()
            meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
            return table.to_pylist(), table.schema.names, meta
        if fmt == "jsonl":
            with open(name, encoding="utf-8") as fh:
                rows = [json.loads(line) for line in fh if line.strip()]
            return rows, list(rows[0]) if rows else [], {}
        with open(name, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
            rows = list(reader)
            return rows, list(reader.fieldnames or []), {}
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the table: {exc}", name) from None
    except Exception as exc:  # pyarrow's errors for a damaged file
        raise InputError(f"cannot read the table: {exc}", name) from None


def feature_columns(columns: Sequence[str]) -> list[str]:
    """The feature columns of a table, in its order."""
    return [c for c in columns if c not in META_COLUMNS]


def from_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    label_column: str | None = "label",
    group_column: str | None = None,
    label_pattern: str | None = None,
    group_pattern: str | None = None,
    params: dict[str, Any] | None = None,
    where: str = "the table",
) -> Dataset:
    """A dataset from summary rows (dicts with ``path`` and the feature columns)."""
    if rows and any(k in rows[0] for k in ("frame", "segment")):
        raise UsageError(
            f"{where} has one row per frame or segment: models take one row per file "
            "(a features table without --frames/--segment)"
        )
    feats = feature_columns(columns)
    if not feats:
        raise UsageError(f"{where} has no feature columns")
    X = np.array([[_float(r.get(c)) for c in feats] for r in rows], dtype=np.float64)
    X = X.reshape(len(rows), len(feats))
    paths = [str(r.get("path", "")) for r in rows]
    labels = _values(rows, paths, label_column, label_pattern, "label", where)
    groups = _values(rows, paths, group_column, group_pattern, "group", where)
    return Dataset(X, feats, paths, labels, groups, params)


def _values(
    rows: Sequence[Mapping[str, Any]],
    paths: list[str],
    column: str | None,
    pattern: str | None,
    what: str,
    where: str,
) -> list[str] | None:
    if pattern is not None:
        rx = compile_pattern(pattern, what)
        out = []
        for p in paths:
            m = rx.search(Path(p).name)
            if m is None:
                raise UsageError(f"--{what}-pattern {pattern!r} does not match {p}")
            out.append(m.group(1) if m.groups() else m.group(0))
        return out
    if column is None:
        return None
    if rows and column not in rows[0]:
        if what == "label" and column == "label":
            return None  # no labels: fine for scoring, checked where they are needed
        raise UsageError(f"{where} has no column {column!r}")
    return [str(r.get(column, "")) for r in rows]


def compile_pattern(pattern: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"--{what}-pattern {pattern!r}: {exc}") from None


def from_table(path: str | os.PathLike[str], **kw: Any) -> Dataset:
    """A dataset from a features table file (its recorded parameters included)."""
    rows, columns, meta = read_table(path)
    params = json.loads(meta[PARAMS_KEY]) if PARAMS_KEY in meta else None
    options = json.loads(meta[OPTIONS_KEY]) if OPTIONS_KEY in meta else {}
    if options.get("shape") not in (None, "summary"):
        raise UsageError(
            f"{path}: a --{options['shape']} table: models take one row per file "
            "(a features table without --frames/--segment)"
        )
    return from_rows(rows, columns, params=params, where=os.fspath(path), **kw)


def align(ds: Dataset, columns: Sequence[str], params: Mapping[str, Any] | None) -> np.ndarray:
    """``ds.X`` with the model's columns, in the model's order; refuse what differs.

    Raises
    ------
    UsageError
        Other feature parameters, or columns missing (or extra), named.
    """
    if params is not None and ds.params is not None and dict(ds.params) != dict(params):
        diff = [
            k for k in sorted(set(params) | set(ds.params)) if params.get(k) != ds.params.get(k)
        ]
        shown = ", ".join(f"{k}: {ds.params.get(k)!r} (model: {params.get(k)!r})" for k in diff[:4])
        raise UsageError(f"the table's features were made with other parameters: {shown}")
    have = {c: i for i, c in enumerate(ds.columns)}
    missing = [c for c in columns if c not in have]
    extra = [c for c in ds.columns if c not in set(columns)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} (e.g. {', '.join(missing[:3])})")
        if extra:
            parts.append(f"{len(extra)} the model does not know (e.g. {', '.join(extra[:3])})")
        raise UsageError(f"the table's columns differ from the model's: {'; '.join(parts)}")
    return ds.X[:, [have[c] for c in columns]]
