"""The Parquet tables audiokit writes open as they are in pandas, polars and DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def tables(tmp_path_factory, sample_dir: Path) -> dict[str, Path]:
    from click.testing import CliRunner

    from audiokit.cli import cli

    out = tmp_path_factory.mktemp("tables")
    runner = CliRunner()
    feats = out / "features.parquet"
    res = runner.invoke(
        cli, ["features", str(sample_dir), "-o", str(feats), "--label-from-parent", "-q"]
    )
    assert res.exit_code == 0, res.output
    inv = out / "inspect.parquet"
    assert runner.invoke(cli, ["inspect", str(sample_dir), "-o", str(inv)]).exit_code == 0
    return {"features": feats, "inspect": inv}


def test_pandas(tables: dict[str, Path]) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_parquet(tables["features"])
    assert len(df) == 11 and str(df["mfcc_00_mean"].dtype) == "float32"
    assert sorted(df["label"].unique()) == [
        "clipped",
        "music",
        "noise",
        "speech",
        "stereo",
        "tones",
    ]


def test_polars(tables: dict[str, Path]) -> None:
    pl = pytest.importorskip("polars")
    df = pl.read_parquet(tables["features"])
    assert df.height == 11 and df.schema["mfcc_00_mean"] == pl.Float32
    inv = pl.read_parquet(tables["inspect"])
    assert inv.filter(pl.col("channels") == 2)["path"].to_list()[0].endswith("pan.wav")


def test_duckdb(tables: dict[str, Path]) -> None:
    duckdb = pytest.importorskip("duckdb")
    rows = duckdb.sql(
        f"select label, count(*) from '{tables['features']}' group by label order by label"
    ).fetchall()
    assert rows == [
        ("clipped", 2),
        ("music", 2),
        ("noise", 2),
        ("speech", 2),
        ("stereo", 1),
        ("tones", 2),
    ]
    ((n_clipped,),) = duckdb.sql(
        f"select count(*) from '{tables['inspect']}' where clipped_fraction > 0.5"
    ).fetchall()
    assert n_clipped == 1
