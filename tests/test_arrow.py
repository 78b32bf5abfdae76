"""audiokit.arrow builds the same Arrow arrays as pyarrow, without importing pandas."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from audiokit.arrow import column, infer_type, numpy_column

CASES = [
    ([1.5, None, 3.0, float("nan"), 0.1], pa.float32()),
    ([1.5, None, 3, np.float32(2.5), np.float64(1e300)], pa.float64()),
    ([1, None, 2**40, np.int64(-7)], pa.int64()),
    ([1, 2, None, np.int32(3)], pa.int32()),
    ([], pa.int32()),
    ([], pa.string()),
    ([None, None], pa.float64()),
    (["a", None, "é ü", ""], pa.string()),
    ([True, None, False, np.bool_(True)] * 5, pa.bool_()),
    ([["x", "y"], None, [], ("z",)], pa.list_(pa.string())),
    ([[], []], pa.list_(pa.string())),
    # Not plainly of the type: pyarrow decides (and converts or refuses as it always did).
    ([1.0, 2.0], pa.int32()),
    ([True, 2.0], pa.float64()),
    ([1, 2], pa.string()),
    (
        [[{"peak": -1.5, "rms": None}], None, [{"peak": 0.0, "rms": -3.0}] * 2],
        pa.list_(pa.struct([("peak", pa.float64()), ("rms", pa.float64())])),
    ),
    ([{"a": 1}, None, {"a": None}], pa.struct([("a", pa.int32())])),
]


@pytest.mark.parametrize(("values", "typ"), CASES, ids=lambda v: str(v)[:30])
def test_column_equals_pa_array(values: list, typ: pa.DataType) -> None:
    try:
        expect = pa.array(values, type=typ)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        with pytest.raises(type(exc)):
            column(values, typ)
        return
    got = column(values, typ)
    got.validate(full=True)
    assert got.type == expect.type
    assert got.null_count == expect.null_count
    # Every value, NaN included (NaN != NaN); under a null struct pyarrow's children hold
    # zeros and ours nulls, which readers never see.
    assert repr(got.to_pylist()) == repr(expect.to_pylist())


def test_float_values_round_as_pyarrow_does() -> None:
    values = list(np.random.default_rng(0).standard_normal(1000) * 1e5)
    np.testing.assert_array_equal(
        column(values, pa.float32()).to_numpy(), pa.array(values, type=pa.float32()).to_numpy()
    )


@pytest.mark.parametrize(
    ("values", "typ"),
    [
        ([True, False], pa.bool_()),
        ([1, 2], pa.int64()),
        ([1, 2.5], pa.float64()),
        (["a"], pa.string()),
        ([None, None], pa.null()),
    ],
)
def test_infer_type_as_pyarrow(values: list, typ: pa.DataType) -> None:
    assert infer_type(values) == typ == pa.array(values).type


def test_numpy_column_is_zero_copy_and_equal() -> None:
    a = np.arange(10, dtype=np.float32) / 3
    col = numpy_column(a)
    assert col.type == pa.float32() and col.equals(pa.array(a))
    assert numpy_column(np.arange(5, dtype=np.int16)).equals(pa.array(np.arange(5, dtype=np.int16)))
    assert numpy_column(a[::2]).to_pylist() == a[::2].tolist()


def test_writing_parquet_does_not_import_pandas(tmp_path: Path, sample_dir: Path) -> None:
    script = (
        "import sys\n"
        "from audiokit.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], prog_name='audiokit')\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "print('pandas' in sys.modules)\n"
    )
    for args in (
        ["features", str(sample_dir / "tones"), "-o", str(tmp_path / "f.parquet"), "-j", "1"],
        ["inspect", str(sample_dir / "stereo"), "-o", str(tmp_path / "i.parquet")],
    ):
        out = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "False", (args, out.stderr)
    table = pq.read_table(tmp_path / "f.parquet")
    assert table.num_rows == 2 and table.schema.field("mfcc_00_mean").type == pa.float32()
