"""``inspect``: header facts and levels against soundfile and numpy computed directly."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from audiokit.inspection import clip_threshold, inspect_file, measure_levels
from tests.conftest import sine


def ref_levels(y: np.ndarray, clip: float, frame: int, silence_db: float = -60.0) -> dict:
    """Levels of a (n,) array straight from numpy: the reference the code must match."""
    x = y.astype(np.float64)
    peak = np.abs(x).max()
    rms = math.sqrt(np.mean(x * x))
    nfr = math.ceil(len(x) / frame)
    powers = [np.mean(x[i * frame : (i + 1) * frame] ** 2) for i in range(nfr)]
    return {
        "peak_dbfs": 20 * math.log10(peak) if peak > 0 else -math.inf,
        "rms_dbfs": 20 * math.log10(rms) if rms > 0 else -math.inf,
        "dc_offset": x.mean(),
        "clipped_fraction": np.mean(np.abs(x) >= clip),
        "silent_fraction": np.mean(np.array(powers) < 10 ** (silence_db / 10)),
    }


def test_levels_match_numpy_on_sample_files(sample_dir: Path) -> None:
    for path in sorted(sample_dir.rglob("*")):
        if path.suffix not in (".wav", ".flac", ".ogg"):
            continue
        info = sf.info(path)
        res = inspect_file(str(path))
        data, sr = sf.read(path, dtype="float32", always_2d=True)
        assert res.info.frames == info.frames == len(data)
        assert res.info.samplerate == info.samplerate
        assert res.info.channels == info.channels
        assert res.info.format == info.format and res.info.subtype == info.subtype
        assert res.info.duration == pytest.approx(info.duration)
        assert res.info.size_bytes == path.stat().st_size
        clip = clip_threshold(res.info.bit_depth, res.info.subtype)
        frame = round(sr * 0.02)
        for c in range(info.channels):
            ref = ref_levels(data[:, c], clip, frame)
            got = res.channel_levels[c].as_dict()
            for key, want in ref.items():
                assert got[key] == pytest.approx(want, rel=1e-6, abs=1e-9), (path.name, c, key)


def test_known_values_of_generated_files(sample_dir: Path) -> None:
    sine440 = inspect_file(str(sample_dir / "tones/sine440.wav"))
    assert sine440.levels is not None
    assert sine440.levels.peak_dbfs == pytest.approx(-6.02, abs=0.01)
    assert sine440.levels.rms_dbfs == pytest.approx(-9.03, abs=0.01)  # sine: peak - 3.01 dB
    assert sine440.levels.crest_factor_db == pytest.approx(3.01, abs=0.01)
    clipped = inspect_file(str(sample_dir / "clipped/overdriven.wav"))
    assert clipped.levels is not None
    assert clipped.levels.clipped_fraction == pytest.approx(25160 / 44100, abs=1e-4)
    dc = inspect_file(str(sample_dir / "clipped/dc_offset.wav"))
    assert dc.levels is not None and dc.levels.dc_offset == pytest.approx(0.1, abs=1e-3)
    pan = inspect_file(str(sample_dir / "stereo/pan.wav"))
    left, right = pan.channel_levels
    assert left.peak == pytest.approx(0.8, abs=1e-3)
    assert right.peak == pytest.approx(0.25, abs=1e-3)
    assert pan.levels is not None and pan.levels.peak == pytest.approx(0.8, abs=1e-3)
    pauses = inspect_file(str(sample_dir / "speech/with_pauses.flac"))
    assert pauses.levels is not None and 0.5 < pauses.levels.silent_fraction < 0.7


def test_streaming_levels_equal_whole_array(write_audio) -> None:
    rng = np.random.default_rng(1)
    y = np.concatenate(
        [sine(300, 8000, 1.3), np.zeros(3001, np.float32), 0.01 * sine(50, 8000, 0.7)]
    )
    y = np.stack([y, rng.uniform(-0.9, 0.9, len(y)).astype(np.float32)])
    path = write_audio("mix.wav", y, 8000, "FLOAT")
    whole_total, whole_per = measure_levels(y, 8000)
    for blocksize in (17, 160, 1000, 1 << 16):
        res = inspect_file(str(path), blocksize=blocksize)
        assert res.levels is not None
        assert res.levels.as_dict() == pytest.approx(whole_total.as_dict())
        for a, b in zip(res.channel_levels, whole_per, strict=True):
            assert a.as_dict() == pytest.approx(b.as_dict())


def test_digital_silence_is_minus_inf_not_an_error(write_audio) -> None:
    path = write_audio("silence.wav", np.zeros(8000, np.float32), 8000, "PCM_16")
    res = inspect_file(str(path))
    assert res.levels is not None
    assert res.levels.peak_dbfs == -math.inf and res.levels.rms_dbfs == -math.inf
    assert res.levels.silent_fraction == 1.0
    assert math.isnan(res.levels.crest_factor_db)


def test_no_levels_reads_header_only(sample_dir: Path) -> None:
    res = inspect_file(str(sample_dir / "music/chord.flac"), levels=False)
    assert res.levels is None and res.channel_levels == []
    assert "peak_dbfs" not in res.row()
    assert res.row()["duration"] == pytest.approx(3.0)


# --------------------------------------------------------------------------- CLI


def _rows_from_json(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_json_lines_field_by_field(runner, cli, sample_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", str(sample_dir), "--json", "-j", "2"])
    assert res.exit_code == 0, res.stderr
    rows = _rows_from_json(res.stdout)
    files = sorted(p for p in sample_dir.rglob("*") if p.suffix in (".wav", ".flac", ".ogg"))
    assert [Path(r["path"]) for r in rows] == files  # sorted, deterministic
    for row, path in zip(rows, files, strict=True):
        info = sf.info(path)
        assert row["samplerate"] == info.samplerate
        assert row["channels"] == info.channels
        assert row["frames"] == info.frames
        assert row["subtype"] == info.subtype
        assert row["duration"] == pytest.approx(info.duration)
        assert row["size_bytes"] == path.stat().st_size
        data, _ = sf.read(path, dtype="float32")
        assert row["peak_dbfs"] == pytest.approx(20 * np.log10(np.abs(data).max()), abs=1e-6)
    stereo = next(r for r in rows if r["path"].endswith("pan.wav"))
    assert len(stereo["channel_levels"]) == 2
    assert stereo["channel_levels"][1]["peak_dbfs"] == pytest.approx(20 * np.log10(0.25), abs=0.01)


def test_cli_csv_and_parquet_outputs_agree(runner, cli, sample_dir: Path, tmp_path: Path) -> None:
    res_csv = runner.invoke(cli, ["inspect", str(sample_dir), "--csv"])
    assert res_csv.exit_code == 0
    csv_rows = list(csv.DictReader(io.StringIO(res_csv.stdout)))
    out = tmp_path / "inv.parquet"
    res_pq = runner.invoke(cli, ["inspect", str(sample_dir), "-o", str(out)])
    assert res_pq.exit_code == 0 and res_pq.stdout == ""
    table = pq.read_table(out)
    assert table.num_rows == len(csv_rows) == 11
    assert table.schema.field("bit_depth").type == "int32"
    assert table.schema.metadata[b"audiokit.command"] == b"inspect"
    pq_rows = table.to_pylist()
    for a, b in zip(csv_rows, pq_rows, strict=True):
        assert a["path"] == b["path"]
        assert int(a["frames"]) == b["frames"]
        assert float(a["rms_dbfs"]) == pytest.approx(b["rms_dbfs"])
        assert (a["bit_depth"] == "") == (b["bit_depth"] is None)  # Vorbis has no bit depth
    out_csv = tmp_path / "inv.csv"
    assert runner.invoke(cli, ["inspect", str(sample_dir), "-o", str(out_csv)]).exit_code == 0
    assert list(csv.DictReader(out_csv.open())) == csv_rows


def test_cli_per_channel_rows(runner, cli, sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "ch.jsonl"
    res = runner.invoke(
        cli, ["inspect", str(sample_dir / "stereo/pan.wav"), "--per-channel", "-o", str(out)]
    )
    assert res.exit_code == 0
    rows = _rows_from_json(out.read_text())
    assert [r["channel"] for r in rows] == [0, 1]
    assert rows[0]["peak_dbfs"] == pytest.approx(20 * np.log10(0.8), abs=0.01)


def test_cli_table_on_terminal_lists_every_file(runner, cli, sample_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr("audiokit.cli.common.stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "250")
    res = runner.invoke(cli, ["inspect", str(sample_dir / "tones"), str(sample_dir / "stereo")])
    assert res.exit_code == 0
    for name in ("sine440.wav", "chirp.wav", "pan.wav", "channel 1", "peak dBFS"):
        assert name in res.stdout
    assert "-6.02" in res.stdout  # the sine's peak


def test_cli_stdin(runner, cli, sample_dir: Path) -> None:
    data = (sample_dir / "tones/sine440.wav").read_bytes()
    res = runner.invoke(cli, ["inspect", "-", "--json"], input=data)
    assert res.exit_code == 0, res.stderr
    (row,) = _rows_from_json(res.stdout)
    assert row["path"] == "-" and row["frames"] == 44100 and row["samplerate"] == 22050


def test_cli_files_from_stdin(runner, cli, sample_dir: Path) -> None:
    listing = f"{sample_dir / 'tones/sine440.wav'}\n# a comment\n\n{sample_dir / 'noise'}\n"
    res = runner.invoke(cli, ["inspect", "--files-from", "-", "--json"], input=listing)
    assert res.exit_code == 0
    names = [Path(r["path"]).name for r in _rows_from_json(res.stdout)]
    assert names == ["sine440.wav", "pink.flac", "white.wav"]


def test_cli_glob_and_extension_filter(runner, cli, sample_dir: Path) -> None:
    res = runner.invoke(cli, ["inspect", f"{sample_dir}/**/*.flac", "--json", "--no-levels"])
    assert res.exit_code == 0
    assert {Path(r["path"]).suffix for r in _rows_from_json(res.stdout)} == {".flac"}
    res = runner.invoke(cli, ["inspect", str(sample_dir), "--ext", "ogg", "--json"])
    assert [Path(r["path"]).name for r in _rows_from_json(res.stdout)] == ["melody.ogg"]
