"""Column batches: a table's rows held as columns, and the forms a table writer needs.

A :class:`ColumnBatch` is what a command hands a table sink when its rows come from
numpy matrices (``features``): named 1-D numpy arrays (views of the matrix, no copy)
and :class:`Constant` columns (the path, the label: one value for every row). It is
written without ever becoming one Python dict per row:

- :meth:`ColumnBatch.arrow_table`: Parquet, each numeric column an Arrow array over
  the numpy buffer (:func:`audiokit.arrow.numpy_column`);
- :meth:`ColumnBatch.csv_text`, :meth:`ColumnBatch.json_text`: CSV/TSV and JSON
  lines, byte for byte what :class:`audiokit.writers.TableWriter` writes for the
  same rows (:meth:`ColumnBatch.to_rows`), a column at a time;
- :meth:`ColumnBatch.to_rows`: the rows as dicts, for what needs rows (a terminal table).
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audiokit.writers import csv_cell, json_safe

if TYPE_CHECKING:
    import numpy as np

# numpy is imported where it is used: command modules load this one (through
# output.tables) before they know that they will write a table.


@dataclass(frozen=True)
class Constant:
    """A column holding one value on every row (``None`` is null)."""

    value: Any


if TYPE_CHECKING:
    Column = np.ndarray | Constant


@dataclass(frozen=True)
class ColumnBatch:
    """Rows of a table as columns.

    Attributes
    ----------
    names : tuple of str, length n_columns
        Column names, in order (the keys of :meth:`to_rows`'s dicts).
    data : tuple of (np.ndarray of shape (n_rows,) or Constant), length n_columns
        The columns: 1-D arrays (any strides; numeric, bool, or object holding
        Python values) or constants.
    n_rows : int
    """

    names: tuple[str, ...]
    data: tuple[Column, ...]
    n_rows: int

    def __post_init__(self) -> None:

        if len(self.names) != len(self.data):
            raise ValueError(f"{len(self.names)} names for {len(self.data)} columns")
        shape = (self.n_rows,)
        bad = [
            (name, col.shape)
            for name, col in zip(self.names, self.data, strict=True)
            if not isinstance(col, Constant) and col.shape != shape
        ]
        if bad:
            name, got = bad[0]
            raise ValueError(f"column {name!r}: shape {got}, not ({self.n_rows},)")

    @classmethod
    def of(cls, columns: Mapping[str, Column | Any], n_rows: int) -> ColumnBatch:
        """A batch from ``{name: array or value}``; values that are not arrays are constants."""
        import numpy as np

        data = tuple(
            c if isinstance(c, (np.ndarray, Constant)) else Constant(c) for c in columns.values()
        )
        return cls(tuple(columns), data, n_rows)

    def __len__(self) -> int:
        return self.n_rows

    def column(self, name: str) -> Column:
        return self.data[self.names.index(name)]

    def slice(self, start: int, stop: int) -> ColumnBatch:
        """Rows ``start..stop`` (views of the arrays)."""
        start, stop, _ = slice(start, stop).indices(self.n_rows)
        stop = max(stop, start)
        data = tuple(c if isinstance(c, Constant) else c[start:stop] for c in self.data)
        return ColumnBatch(self.names, data, stop - start)

    def chunks(self, size: int) -> Iterator[ColumnBatch]:
        """Consecutive slices of at most ``size`` rows (one empty batch for no rows)."""
        if self.n_rows <= size:  # the whole batch (a file's summary row): no new views
            yield self
            return
        for a in range(0, self.n_rows, size):
            yield self.slice(a, a + size)

    @staticmethod
    def concat(batches: Sequence[ColumnBatch]) -> ColumnBatch:
        """The rows of ``batches`` (same names, in the same order) one after the other."""
        if len(batches) == 1:
            return batches[0]
        names = batches[0].names
        for b in batches:
            if b.names != names:
                raise ValueError("batches with different columns cannot be joined")
        data = tuple(
            _concat([b.data[j] for b in batches], [b.n_rows for b in batches])
            for j in range(len(names))
        )
        return ColumnBatch(names, data, sum(b.n_rows for b in batches))

    # ------------------------------------------------------------------ forms

    def to_rows(self) -> list[dict[str, Any]]:
        """The rows as dicts of Python values (ints, floats, str, None...)."""
        cols = [_python_values(c, self.n_rows) for c in self.data]
        return [dict(zip(self.names, vals, strict=True)) for vals in zip(*cols, strict=True)]

    def csv_text(self, columns: Sequence[str], delimiter: str = ",") -> str:
        """CSV/TSV lines (no header) of ``columns`` in that order; a missing one is empty.

        The same text as ``csv.writer(delimiter=..., lineterminator="\\n")`` writing
        :func:`audiokit.writers.csv_cell` of each value of :meth:`to_rows`.
        """
        n = self.n_rows
        if not n:
            return ""
        by_name = dict(zip(self.names, self.data, strict=True))
        if len(columns) == 1:  # a lone empty cell is written '""': let csv decide
            return _csv_rows([[csv_cell(r.get(columns[0]))] for r in self.to_rows()], delimiter)
        cols: list[Iterable[str]] = []
        for name in columns:
            col = by_name.get(name, Constant(None))
            if isinstance(col, Constant):
                cols.append(itertools.repeat(_csv_field(col.value, delimiter), n))
            else:
                cols.append(_csv_strings(col, delimiter))
        # (constants are endless repeats: the arrays set the length)
        return "".join([delimiter.join(r) + "\n" for r in zip(*cols, strict=False)])

    def json_text(self) -> str:
        """JSON lines: :func:`audiokit.writers.json_line` of each of :meth:`to_rows`."""
        n = self.n_rows
        if not n:
            return ""
        if not self.names:
            return "{}\n" * n
        template = (
            "{" + ",".join(_json_dumps(k).replace("%", "%%") + ":%s" for k in self.names) + "}\n"
        )
        cols: list[Iterable[str]] = []
        for col in self.data:
            if isinstance(col, Constant):
                cols.append(itertools.repeat(_json_dumps(json_safe(col.value)), n))
            else:
                cols.append(_json_strings(col))
        return "".join([template % r for r in zip(*cols, strict=False)])

    def arrow_type(self, name: str) -> Any:
        """The Arrow type ``pa.array`` infers for this column's Python values (rows' values)."""
        import pyarrow as pa

        from audiokit.arrow import infer_type

        col = self.column(name)
        if isinstance(col, Constant):
            return infer_type([col.value])
        kind = col.dtype.kind
        if kind == "f":
            return pa.float64()
        if kind in "iu":
            return pa.int64()
        if kind == "b":
            return pa.bool_()
        return infer_type(col.tolist())

    def arrow_table(self, schema: Any) -> Any:
        """A ``pyarrow.Table`` with ``schema`` (its fields by name; missing ones null).

        Numeric columns of the schema's type become Arrow arrays over their numpy
        buffers (contiguous ones without a copy); the values are those that
        :func:`audiokit.arrow.column` makes of :meth:`to_rows`'s.
        """
        import pyarrow as pa

        by_name = dict(zip(self.names, self.data, strict=True))
        arrays = [_arrow_column(by_name.get(f.name), f.type, self.n_rows) for f in schema]
        return pa.Table.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------- helpers


def _concat(parts: list[Column], lengths: list[int]) -> Column:
    import numpy as np

    first = parts[0]
    if type(first) is np.ndarray and first.dtype.kind in "iuf":
        # the common case (feature columns): arrays of one numeric dtype, joined at once
        dtype = first.dtype
        arrays = [p for p in parts if type(p) is np.ndarray and p.dtype == dtype]
        if len(arrays) == len(parts):
            return np.concatenate(arrays)
    if isinstance(first, Constant) and all(
        isinstance(p, Constant) and type(p.value) is type(first.value) and p.value == first.value
        for p in parts
    ):
        return first
    if all(
        (isinstance(p, np.ndarray) and p.dtype.kind in "iuf")
        or (isinstance(p, Constant) and type(p.value) in (int, float))
        for p in parts
    ):
        arrays = [
            np.full(n, p.value) if isinstance(p, Constant) else p
            for p, n in zip(parts, lengths, strict=True)
        ]
        if len({a.dtype.kind for a in arrays}) == 1:  # (int and float mixed: Python values)
            return np.concatenate(arrays)
    out = np.empty(sum(lengths), dtype=object)
    at = 0
    for p, n in zip(parts, lengths, strict=True):
        out[at : at + n] = _python_values(p, n)
        at += n
    return out


def _python_values(col: Column, n: int) -> list[Any]:
    if isinstance(col, Constant):
        return [col.value] * n
    return col.tolist()


def _csv_rows(rows: Iterable[Sequence[Any]], delimiter: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _csv_field(value: Any, delimiter: str) -> str:
    """One cell as the csv module writes it in a row of several cells."""
    cell = csv_cell(value)
    if cell == "":
        return ""
    return _csv_rows([[cell]], delimiter)[:-1]


def _csv_strings(col: np.ndarray, delimiter: str) -> list[str]:
    import numpy as np

    kind = col.dtype.kind
    if kind == "f":
        out = list(map(float.__repr__, col.tolist()))  # what csv writes for a float
        for i in np.flatnonzero(np.isnan(col)).tolist():
            out[i] = ""
        return out
    if kind in "iu":
        return list(map(int.__repr__, col.tolist()))
    if kind == "b":
        return ["True" if v else "False" for v in col.tolist()]
    return [_csv_field(v, delimiter) for v in col.tolist()]


def _json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_strings(col: np.ndarray) -> list[str]:
    import numpy as np

    kind = col.dtype.kind
    if kind == "f":
        out = list(map(float.__repr__, col.tolist()))  # what json writes for a float
        for i in np.flatnonzero(~np.isfinite(col)).tolist():
            out[i] = "null"
        return out
    if kind in "iu":
        return list(map(int.__repr__, col.tolist()))
    if kind == "b":
        return ["true" if v else "false" for v in col.tolist()]
    return [_json_dumps(json_safe(v)) for v in col.tolist()]


def _arrow_column(col: Column | None, type: Any, n: int) -> Any:
    import numpy as np
    import pyarrow as pa

    from audiokit.arrow import _NUMERIC, column, numpy_column

    if col is None or (isinstance(col, Constant) and col.value is None):
        return pa.nulls(n, type)
    name = str(type)
    if isinstance(col, Constant):
        value = col.value
        if pa.types.is_string(type) and isinstance(value, str):
            return _repeated_string(value, n)
        if name in _NUMERIC and _type_fits(value, _NUMERIC[name]):
            return numpy_column(np.full(n, value).astype(_NUMERIC[name], copy=False))
        return column([value] * n, type)
    if name in _NUMERIC and (
        col.dtype.kind in "iu" or (col.dtype.kind == "f" and _NUMERIC[name].startswith("float"))
    ):
        return numpy_column(col.astype(_NUMERIC[name], copy=False))
    return column(col.tolist(), type)


def _type_fits(value: Any, numpy_name: str) -> bool:
    """Whether a Python value goes into a numeric Arrow column as :func:`arrow.column` puts it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or numpy_name.startswith("float")


def _repeated_string(value: str, n: int) -> Any:
    """A string array of ``n`` copies of ``value`` (one buffer, no Python list)."""
    import numpy as np
    import pyarrow as pa

    b = value.encode("utf-8")
    if len(b) * n > 2**31 - 1:
        return pa.array([value] * n, type=pa.string())
    offsets = (np.arange(n + 1, dtype=np.int64) * len(b)).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(b * n)])


__all__ = ["ColumnBatch", "Constant"]
