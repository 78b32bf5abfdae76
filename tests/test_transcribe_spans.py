"""Long recordings are transcribed span by span (``audiokit.transcribe.files``).

Spans end in the quietest moment of their last seconds, tile the recording, carry
the text so far as the next prompt and keep a detected language; memory is one
span of samples. With the real tiny.en model, a recording cut into spans gives
the words of the whole-file run.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ["HF_HUB_OFFLINE"] = "1"

from audiokit import audio_io
from audiokit.transcribe import engine, files
from audiokit.transcribe.models import resolve_model
from tests.test_transcribe import wer

SR = files.SAMPLE_RATE
#: What sample_data/speech/with_pauses.flac says (scripts/make_sample_data.py).
PAUSES_TEXT = "One, two, three. Audio kit finds the pauses. Goodbye."


@pytest.fixture
def short_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spans of 20 s for recordings over 30 s, cut in their last 5 s."""
    monkeypatch.setattr(files, "LONG_SECONDS", 30.0)
    monkeypatch.setattr(files, "SPAN_SECONDS", 20.0)
    monkeypatch.setattr(files, "CUT_SECONDS", 5.0)


def _bursts(path: Path, seconds: float = 100.0) -> list[tuple[float, float]]:
    """Noise bursts of 2.7 s with 0.8 s of silence between them; returns the silences."""
    rng = np.random.default_rng(0)
    y = np.zeros(int(seconds * SR), np.float32)
    gaps, t = [], 0.0
    while t < seconds:
        a, b = int(t * SR), int(min(seconds, t + 2.7) * SR)
        y[a:b] = 0.3 * rng.standard_normal(b - a)
        gaps.append((t + 2.7, t + 3.5))
        t += 3.5
    sf.write(path, y, SR, subtype="FLOAT")
    return gaps


def test_spans_tile_the_file_and_end_in_silence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_spans: None
) -> None:
    path = tmp_path / "long.wav"
    gaps = _bursts(path)
    loads: list[tuple[float, float]] = []
    real_load = audio_io.load

    def load(*a: object, **kw: float) -> tuple[np.ndarray, int]:
        loads.append((kw["offset"], kw["duration"]))
        return real_load(*a, **kw)  # type: ignore[arg-type]

    calls: list[tuple[int, str | None, str | None]] = []

    def fake(y: np.ndarray, opts: engine.TranscribeOptions, path: str = "") -> engine.Transcript:
        calls.append((len(y), opts.initial_prompt, opts.language))
        seg = engine.Segment(0.5, len(y) / SR - 0.5, f"part {len(calls)}", -0.1, 0.0, 1.0)
        return engine.Transcript(path, len(y) / SR, "de", 0.9, True, (seg,), opts.model_name)

    monkeypatch.setattr(audio_io, "load", load)
    opts = engine.TranscribeOptions.for_model(resolve_model("tiny.en"), initial_prompt="Names.")
    opts = replace(opts, language=None)
    t = files.transcribe_spans(str(path), opts, 0.0, 100.0, "long.wav", transcribe=fake)

    assert len(loads) == len(calls) >= 5
    assert all(d <= files.SPAN_SECONDS + 1e-9 for _, d in loads)  # one span in memory
    starts = [o for o, _ in loads]
    ends = [o + n / SR for o, (n, _, _) in zip(starts, calls, strict=True)]
    assert starts[0] == 0.0 and ends[-1] == pytest.approx(100.0, abs=1e-3)
    assert starts[1:] == pytest.approx(ends[:-1], abs=1e-9)  # no gap, no overlap
    for cut in ends[:-1]:  # every cut in a silence, in the span's last CUT_SECONDS
        assert any(a <= cut <= b for a, b in gaps), cut
    # file time, the text so far as the prompt, the first detected language kept
    assert [s.start for s in t.segments] == pytest.approx([o + 0.5 for o in starts])
    assert calls[0][1] == "Names." and calls[1][1] == "Names. part 1"
    assert (calls[2][1] or "").endswith("part 1 part 2")
    assert calls[0][2] is None and all(lang == "de" for _, _, lang in calls[1:])
    assert t.duration == pytest.approx(100.0, abs=1e-3) and t.text.count("part") == len(calls)


def test_short_files_are_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, short_spans: None
) -> None:
    path = tmp_path / "short.wav"
    _bursts(path, 25.0)
    used: list[str] = []
    monkeypatch.setattr(files, "transcribe_spans", lambda *a, **k: used.append("spans"))
    monkeypatch.setattr(files, "transcribe_array", lambda y, o, path="": used.append("whole"))
    monkeypatch.setattr(files, "shifted", lambda t, o: t)
    opts = engine.TranscribeOptions.for_model(resolve_model("tiny.en"))
    files.transcribe_file(str(path), opts)
    files.transcribe_file(str(path), opts, start=1.0)
    assert used == ["whole", "whole"]
    long = tmp_path / "long.wav"
    _bursts(long, 40.0)
    files.transcribe_file(str(long), opts)
    assert used[-1] == "spans"


def test_quietest_cut_finds_the_pause() -> None:
    y = np.ones(10_000, np.float32)
    y[7_000:7_200] = 0.0
    cut = files.quietest_cut(y, window=5_000, frame=100)
    assert 7_000 <= cut <= 7_200
    assert 1 <= files.quietest_cut(np.zeros(3, np.float32), window=5_000, frame=100) <= 2


def test_a_long_recording_in_spans_says_what_the_whole_run_says(
    tmp_path: Path, sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pieces = [
        audio_io.load(sample_dir / "speech" / name, sr=SR)[0]
        for name in ("hello.wav", "with_pauses.flac")
    ]
    gap = np.zeros(int(1.5 * SR), np.float32)
    y = np.concatenate([p for _ in range(3) for q in pieces for p in (q, gap)])
    path = tmp_path / "speech.flac"
    sf.write(path, y, SR, subtype="PCM_24")
    opts = engine.TranscribeOptions.for_model(resolve_model("tiny.en"), threads=2)
    whole = files.transcribe_file(str(path), opts)
    monkeypatch.setattr(files, "LONG_SECONDS", 20.0)
    monkeypatch.setattr(files, "SPAN_SECONDS", 15.0)
    monkeypatch.setattr(files, "CUT_SECONDS", 3.0)
    spans = files.transcribe_file(str(path), opts)
    assert spans.duration == pytest.approx(len(y) / SR, abs=1e-3)
    # Against what was said (the two texts three times), spans do as well as one run.
    said = ((sample_dir / "speech" / "hello.txt").read_text() + " " + PAUSES_TEXT + " ") * 3
    assert wer(said, spans.text) <= wer(said, whole.text) + 0.1, (spans.text, whole.text)
    assert wer(said, spans.text) < 0.5
    starts = [s.start for s in spans.segments]
    assert starts == sorted(starts) and spans.segments[-1].end <= spans.duration + 1e-6
