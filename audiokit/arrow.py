"""Arrow columns from Python values, without importing pandas.

``pyarrow.array`` and ``pyarrow.table`` import pandas on their first call (to
check whether they were given a pandas object): about 0.2 s, paid by every
command that writes Parquet, where a one-file ``features`` run takes 0.5 s in
all. The column types audiokit's tables use (numbers, booleans, strings, lists
of strings) are built here from numpy buffers with ``pa.Array.from_buffers``,
which never looks at pandas; anything else goes through ``pa.array``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: numpy dtype of each fixed-width Arrow type built from buffers.
_NUMERIC = {
    "float": "float32",
    "double": "float64",
    "halffloat": "float16",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "uint8": "uint8",
    "uint16": "uint16",
    "uint32": "uint32",
    "uint64": "uint64",
}
_BY_DTYPE = {v: k for k, v in _NUMERIC.items()}
_INT_NAMES = frozenset(k for k, v in _NUMERIC.items() if v.startswith(("int", "uint")))
_INT32_MAX = 2**31 - 1


def column(values: Sequence[Any], type: Any) -> Any:
    """``pa.array(values, type=type)``, with the same result, but without pandas.

    Parameters
    ----------
    values : sequence, length n
        Python (or numpy scalar) values; ``None`` is null.
    type : pyarrow.DataType

    Returns
    -------
    pyarrow.Array of length n
    """
    import pyarrow as pa

    try:
        built = _from_buffers(values, type)
    except (TypeError, ValueError, OverflowError, AttributeError):
        built = None  # let pyarrow convert it, or say what is wrong with it
    return built if built is not None else pa.array(values, type=type)


def numpy_column(a: Any) -> Any:
    """A 1-D numeric numpy array as an Arrow array (zero-copy when contiguous), without pandas.

    Parameters
    ----------
    a : np.ndarray, shape (n,), of a signed or unsigned integer or float dtype
    """
    import pyarrow as pa

    a = np.ascontiguousarray(a)
    name = a.dtype.name
    if a.ndim != 1 or name not in _BY_DTYPE:
        return pa.array(a)
    return pa.Array.from_buffers(pa.type_for_alias(name), len(a), [None, pa.py_buffer(a)])


def infer_type(values: Sequence[Any]) -> Any:
    """The Arrow type ``pa.array(values)`` would infer, for plain Python values.

    bool, int (int64), float or int and float mixed (double), str (string),
    lists of those and dicts with the same keys (structs); anything else (numpy
    scalars, all nulls, empty lists) is left to pyarrow.
    """
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    if kinds == {str}:
        return pa.string()
    if kinds and kinds <= {list, tuple}:
        items = [x for v in values if v is not None for x in v]
        if items:
            return pa.list_(infer_type(items))
    if kinds == {dict}:
        present = [v for v in values if v is not None]
        keys = list(present[0])
        if all(list(d) == keys for d in present):
            return pa.struct([pa.field(k, infer_type([d[k] for d in present])) for k in keys])
    return pa.array(values).type


def _validity(values: Sequence[Any]) -> Any:
    """Arrow's validity bitmap (1 = present), or None when nothing is null."""
    import pyarrow as pa

    valid = np.asarray([v is not None for v in values], dtype=bool)
    if valid.all():
        return None
    return pa.py_buffer(np.packbits(valid, bitorder="little"))


def _from_buffers(values: Sequence[Any], type: Any) -> Any:
    """The array, or None when ``values`` are not plainly of ``type`` (pyarrow decides)."""
    import pyarrow as pa

    n = len(values)
    present = [v for v in values if v is not None]
    name = str(type)
    if name in _NUMERIC:
        if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in present):
            return None
        data = np.asarray([0 if v is None else v for v in values])
        if n and (data.dtype.kind not in "iuf" or (data.dtype.kind == "f" and name in _INT_NAMES)):
            return None  # objects, floats into integers
        data = data.astype(_NUMERIC[name], copy=False)
        return pa.Array.from_buffers(type, n, [_validity(values), pa.py_buffer(data)])
    if pa.types.is_boolean(type):
        if not all(isinstance(v, (bool, np.bool_)) for v in present):
            return None
        bits = np.packbits(np.asarray([bool(v) for v in values], dtype=bool), bitorder="little")
        return pa.Array.from_buffers(type, n, [_validity(values), pa.py_buffer(bits)])
    if pa.types.is_string(type):
        if not all(isinstance(v, str) for v in present):
            return None
        encoded = [b"" if v is None else v.encode("utf-8") for v in values]
        offsets = _offsets([len(b) for b in encoded])
        if offsets is None:
            return None
        buffers = [_validity(values), pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
        return pa.Array.from_buffers(type, n, buffers)
    if pa.types.is_list(type):
        if not all(isinstance(v, (list, tuple)) for v in present):
            return None
        child = _from_buffers([x for v in present for x in v], type.value_type)
        offsets = _offsets([0 if v is None else len(v) for v in values])
        if child is None or offsets is None:
            return None
        buffers = [_validity(values), pa.py_buffer(offsets)]
        return pa.Array.from_buffers(type, n, buffers, children=[child])
    if pa.types.is_struct(type):
        if not all(isinstance(v, dict) for v in present):
            return None
        children = []
        for field in type:
            child = _from_buffers(
                [None if v is None else v.get(field.name) for v in values], field.type
            )
            if child is None:
                return None
            children.append(child)
        return pa.Array.from_buffers(type, n, [_validity(values)], children=children)
    return None


def _offsets(lengths: list[int]) -> Any:
    """int32 offsets ``[0, l0, l0+l1, ...]``, or None past 32-bit (pyarrow chunks those)."""

    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] > _INT32_MAX:
        return None
    return offsets.astype(np.int32)
