"""Output formats of ``audiokit transcribe``: pure functions over synthetic transcripts."""

from __future__ import annotations

import json
import re

import pytest

from audiokit.transcribe.engine import Segment, Transcript, Word, is_hallucination
from audiokit.transcribe.formats import (
    file_row,
    format_from_path,
    render,
    segment_rows,
    summary_path,
    timestamp,
    to_dict,
)

SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _seconds(m: tuple[str, ...]) -> float:
    h, mi, s, ms = (int(x) for x in m)
    return h * 3600 + mi * 60 + s + ms / 1000


def _seg(start: float, end: float, text: str, **kw: float) -> Segment:
    return Segment(
        start,
        end,
        text,
        kw.get("lp", -0.3),
        kw.get("ns", 0.05),
        1.2,
        (Word(start, end, text.split()[0], 0.9),) if text else (),
    )


def make_transcript(segments: list[Segment] | None = None) -> Transcript:
    segs = (
        segments
        if segments is not None
        else [
            _seg(0.0, 2.5, "Hello there."),
            _seg(2.5, 3661.2345, "A long one, an hour later."),
            _seg(3661.0, 3661.0, "Overlapping and empty span."),  # not monotonic, zero length
        ]
    )
    return Transcript("a/b.wav", 3700.0, "en", 0.97, True, tuple(segs), "tiny.en", "transcribe")


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    """Parse SRT strictly; fail on anything malformed."""
    cues = []
    blocks = text.strip("\n").split("\n\n") if text.strip() else []
    for block in blocks:
        lines = block.split("\n")
        assert len(lines) >= 3, block
        idx = int(lines[0])
        m = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", lines[1])
        assert m, lines[1]
        g = m.groups()
        cues.append((idx, _seconds(g[:4]), _seconds(g[4:]), "\n".join(lines[2:])))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    assert text.startswith("WEBVTT\n")
    cues = []
    for block in text.split("\n\n")[1:]:
        if not block.strip():
            continue
        lines = block.strip("\n").split("\n")
        m = re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", lines[0])
        assert m, lines[0]
        g = m.groups()
        cues.append((_seconds(g[:4]), _seconds(g[4:]), "\n".join(lines[1:])))
    return cues


def check_monotonic(spans: list[tuple[float, float]]) -> None:
    prev = 0.0
    for a, b in spans:
        assert a >= prev and b > a, spans
        prev = b


@pytest.mark.parametrize(
    ("seconds", "sep", "expected"),
    [
        (0, ",", "00:00:00,000"),
        (1.0005, ",", "00:00:01,000"),
        (61.25, ".", "00:01:01.250"),
        (3661.2345, ",", "01:01:01,234"),
        (59.9996, ",", "00:01:00,000"),
        (-0.2, ",", "00:00:00,000"),
    ],
)
def test_timestamp(seconds: float, sep: str, expected: str) -> None:
    assert timestamp(seconds, sep) == expected


def test_srt_is_well_formed_and_monotonic() -> None:
    text = render(make_transcript(), "srt")
    cues = parse_srt(text)
    assert [c[0] for c in cues] == [1, 2, 3]
    assert cues[0][1:] == (0.0, 2.5, "Hello there.")
    assert cues[1][2] == pytest.approx(3661.234)
    check_monotonic([(a, b) for _, a, b, _ in cues])
    assert text.endswith("\n") and not text.endswith("\n\n\n")


def test_vtt_is_well_formed_and_monotonic() -> None:
    cues = parse_vtt(render(make_transcript(), "vtt"))
    assert len(cues) == 3
    assert cues[1][2] == "A long one, an hour later."
    check_monotonic([(a, b) for a, b, _ in cues])


def test_empty_transcript_renders_empty_documents() -> None:
    t = make_transcript([])
    assert render(t, "txt") == ""
    assert render(t, "srt") == ""
    assert render(t, "vtt") == "WEBVTT\n"
    assert render(t, "tsv") == "start\tend\ttext\n"
    assert render(t, "jsonl") == ""
    doc = json.loads(render(t, "json"))
    assert doc["segments"] == [] and doc["text"] == ""
    assert file_row(t)["segments"] == 0


def test_tsv_and_txt() -> None:
    t = make_transcript()
    lines = render(t, "tsv").splitlines()
    assert lines[0] == "start\tend\ttext"
    assert lines[1] == "0\t2500\tHello there."
    assert lines[2].split("\t")[:2] == ["2500", "3661234"]
    assert render(t, "txt").splitlines() == [s.text for s in t.segments]


def test_json_document_and_words() -> None:
    t = make_transcript()
    doc = json.loads(render(t, "json", words=True))
    assert doc["language"] == "en" and doc["language_probability"] == 0.97
    assert doc["text"] == "Hello there. A long one, an hour later. Overlapping and empty span."
    assert len(doc["segments"]) == 3
    assert doc["segments"][0]["words"][0] == {
        "start": 0.0,
        "end": 2.5,
        "word": "Hello",
        "probability": 0.9,
    }
    assert "words" not in to_dict(t)["segments"][0]


def test_table_rows() -> None:
    t = make_transcript()
    rows = segment_rows(t)
    assert [r["segment"] for r in rows] == [0, 1, 2]
    assert list(rows[0]) == [
        "path",
        "segment",
        "start",
        "end",
        "text",
        "avg_logprob",
        "no_speech_prob",
        "language",
    ]
    assert rows[0]["path"] == "a/b.wav" and rows[0]["language"] == "en"
    summary = file_row(t)
    assert summary["segments"] == 3 and summary["duration"] == 3700.0
    jl = [json.loads(line) for line in render(t, "jsonl").splitlines()]
    assert jl[1]["text"] == "A long one, an hour later."


def test_names() -> None:
    assert format_from_path("x/out.SRT") == "srt"
    assert format_from_path("x.pq") == "parquet"
    assert format_from_path("x.wav") is None
    assert str(summary_path("out/all.parquet")) == "out/all.files.parquet"


def test_hallucination_rule() -> None:
    assert is_hallucination(_seg(0, 1, "Thank you.", ns=0.9, lp=-1.5))
    assert not is_hallucination(_seg(0, 1, "Thank you.", ns=0.9, lp=-0.5))
    assert not is_hallucination(_seg(0, 1, "Thank you.", ns=0.2, lp=-1.5))
    assert is_hallucination(_seg(0, 1, ""))
