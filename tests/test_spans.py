"""--start/--duration on every command that reads audio: the span, as if the file were cut."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 16000


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    """A 3 s file, and its 1.0-2.5 s span cut by hand."""
    rng = np.random.default_rng(2)
    t = np.arange(3 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t) + 0.02 * rng.standard_normal(len(t))
    y = (y * 32767).astype(np.int16)
    whole, cut = tmp_path / "whole.wav", tmp_path / "cut.wav"
    sf.write(whole, y, SR, subtype="PCM_16")
    sf.write(cut, y[SR : int(2.5 * SR)], SR, subtype="PCM_16")
    return whole, cut


def _one(res) -> dict:
    assert res.exit_code == 0, res.stderr
    (line,) = res.stdout.splitlines()
    return json.loads(line)


SPAN = ["--start", "1", "--duration", "1.5"]


def test_features_of_a_span_equal_those_of_the_cut_file(runner, cli, pair) -> None:
    whole, cut = pair
    opts = ["--features", "mfcc,rms,spectral", "--sr", "16000", "--json"]
    a = _one(runner.invoke(cli, ["features", str(whole), *SPAN, *opts]))
    b = _one(runner.invoke(cli, ["features", str(cut), *opts]))
    a.pop("path"), b.pop("path")
    assert a == b


def test_inspect_measures_the_span(runner, cli, pair) -> None:
    whole, cut = pair
    a = _one(runner.invoke(cli, ["inspect", str(whole), *SPAN, "--json"]))
    b = _one(runner.invoke(cli, ["inspect", str(cut), "--json"]))
    for key in ("peak_dbfs", "rms_dbfs", "dc_offset", "silent_fraction"):
        assert a[key] == b[key], key
    assert a["duration"] == 3.0  # the header facts stay the file's


def test_preprocess_writes_the_span(runner, cli, pair, tmp_path: Path) -> None:
    whole, cut = pair
    out = tmp_path / "span.wav"
    res = runner.invoke(cli, ["preprocess", str(whole), "-o", str(out), *SPAN, "--json"])
    assert res.exit_code == 0, res.stderr
    assert json.loads(res.stdout)["duration_in"] == 1.5
    assert np.array_equal(sf.read(out, dtype="int16")[0], sf.read(cut, dtype="int16")[0])
    streamed = tmp_path / "streamed.wav"
    res = runner.invoke(
        cli,
        ["preprocess", str(whole), "-o", str(streamed), *SPAN, "--streaming", "on", "--gain", "0"],
    )
    assert res.exit_code == 0, res.stderr
    assert np.array_equal(sf.read(streamed, dtype="int16")[0], sf.read(cut, dtype="int16")[0])


def test_a_start_past_the_end_is_one_line(runner, cli, pair) -> None:
    whole, _ = pair
    res = runner.invoke(cli, ["features", str(whole), "--start", "9", "--features", "rms"])
    assert res.exit_code == 1 and "past the end" in res.stderr


def test_transcript_times_are_the_files(runner, cli, sample_dir: Path) -> None:
    speech = sample_dir / "speech" / "with_pauses.flac"
    full = _one(runner.invoke(cli, ["transcribe", str(speech), "--json", "--no-vad"]))
    part = _one(
        runner.invoke(
            cli,
            ["transcribe", str(speech), "--json", "--no-vad", "--start", "3", "--duration", "3"],
        )
    )
    assert part["segments"], part
    assert all(3.0 <= s["start"] <= 6.0 + 1e-6 for s in part["segments"])
    assert len(part["text"]) < len(full["text"])
