"""Rendering transcripts: pure functions from :class:`Transcript` to text or table rows.

Text formats (one document per input file):

``txt``   the text, one segment per line.
``json``  one object: path, model, task, language, language_probability,
          duration, text, segments (start, end, text, avg_logprob,
          no_speech_prob, and words when word timestamps were asked for).
``srt``   SubRip: index, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text, blank line.
``vtt``   WebVTT: ``WEBVTT`` header, then ``HH:MM:SS.mmm --> HH:MM:SS.mmm`` cues.
``tsv``   like whisper's: ``start`` and ``end`` in integer milliseconds, ``text``.

Table formats (``jsonl``, ``parquet``): one row per segment
(:func:`segment_rows`, columns :data:`SEGMENT_TYPES`) and one summary row per
file (:func:`file_row`, columns :data:`FILE_TYPES`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audiokit.transcribe.engine import Segment, Transcript
from audiokit.writers import json_line, json_safe

TEXT_FORMATS = ("txt", "json", "srt", "vtt", "tsv")
TABLE_FORMATS = ("jsonl", "parquet")
FORMATS = TEXT_FORMATS + TABLE_FORMATS

#: File extension of each format.
EXTENSIONS = {f: f".{f}" for f in FORMATS}

#: Column types of the segment table (Parquet).
SEGMENT_TYPES = {
    "path": "string",
    "segment": "int32",
    "start": "float64",
    "end": "float64",
    "text": "string",
    "avg_logprob": "float64",
    "no_speech_prob": "float64",
    "language": "string",
}
#: Column types of the per-file summary table (Parquet).
FILE_TYPES = {
    "path": "string",
    "language": "string",
    "language_probability": "float64",
    "text": "string",
    "segments": "int32",
    "duration": "float64",
    "model": "string",
    "task": "string",
}


def format_from_path(path: str) -> str | None:
    """The format an output file name implies (``.srt`` -> ``srt``), or None."""
    suffix = Path(path).suffix.lower()
    aliases = {".pq": "parquet", ".ndjson": "jsonl", ".text": "txt", ".webvtt": "vtt"}
    if suffix in aliases:
        return aliases[suffix]
    fmt = suffix.lstrip(".")
    return fmt if fmt in FORMATS else None


def timestamp(seconds: float, sep: str = ",") -> str:
    """``HH:MM:SS,mmm`` (``sep`` ``.`` for WebVTT), rounded to the millisecond."""
    ms = max(0, int(round(seconds * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cues(t: Transcript) -> list[tuple[float, float, str]]:
    """Cue spans that never go backwards nor have zero length (subtitle players need both)."""
    out: list[tuple[float, float, str]] = []
    prev_end = 0.0
    for s in t.segments:
        start = max(s.start, prev_end)
        end = max(s.end, start + 0.001)
        text = " ".join(s.text.split())
        out.append((start, end, text))
        prev_end = end
    return out


def to_txt(t: Transcript) -> str:
    """One segment per line (empty string for no speech)."""
    return "".join(s.text + "\n" for s in t.segments)


def to_srt(t: Transcript) -> str:
    """SubRip subtitles, numbered from 1."""
    blocks = [
        f"{i}\n{timestamp(a)} --> {timestamp(b)}\n{text}\n"
        for i, (a, b, text) in enumerate(_cues(t), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(t: Transcript) -> str:
    """WebVTT subtitles."""
    blocks = ["WEBVTT\n"] + [
        f"{timestamp(a, '.')} --> {timestamp(b, '.')}\n{text}\n" for a, b, text in _cues(t)
    ]
    return "\n".join(blocks)


def to_tsv(t: Transcript) -> str:
    """``start<TAB>end<TAB>text`` with times in integer milliseconds, header line first."""
    lines = ["start\tend\ttext"]
    for s in t.segments:
        text = " ".join(s.text.replace("\t", " ").split())
        lines.append(f"{int(round(s.start * 1000))}\t{int(round(s.end * 1000))}\t{text}")
    return "\n".join(lines) + "\n"


def _segment_dict(s: Segment, words: bool) -> dict[str, Any]:
    d: dict[str, Any] = {
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "text": s.text,
        "avg_logprob": s.avg_logprob,
        "no_speech_prob": s.no_speech_prob,
    }
    if words:
        d["words"] = [
            {
                "start": round(w.start, 3),
                "end": round(w.end, 3),
                "word": w.word,
                "probability": w.probability,
            }
            for w in s.words
        ]
    return d


def to_dict(t: Transcript, words: bool = False) -> dict[str, Any]:
    """The JSON document of one transcript."""
    return {
        "path": t.path,
        "model": t.model,
        "task": t.task,
        "language": t.language,
        "language_probability": t.language_probability,
        "duration": round(t.duration, 3),
        "text": t.text,
        "segments": [_segment_dict(s, words) for s in t.segments],
    }


def to_json(t: Transcript, words: bool = False, indent: int | None = 2) -> str:
    """:func:`to_dict` as JSON text (one line when ``indent`` is None)."""

    seps = (",", ":") if indent is None else (",", ": ")
    text = json.dumps(
        json_safe(to_dict(t, words)), ensure_ascii=False, indent=indent, separators=seps
    )
    return text + "\n"


def segment_rows(t: Transcript) -> list[dict[str, Any]]:
    """One row per segment: path, segment, start, end, text, avg_logprob, no_speech_prob,
    language."""
    return [
        {
            "path": t.path,
            "segment": i,
            "start": round(s.start, 3),
            "end": round(s.end, 3),
            "text": s.text,
            "avg_logprob": s.avg_logprob,
            "no_speech_prob": s.no_speech_prob,
            "language": t.language,
        }
        for i, s in enumerate(t.segments)
    ]


def file_row(t: Transcript) -> dict[str, Any]:
    """One summary row: path, language, language_probability, text, segments, duration,
    model, task."""
    return {
        "path": t.path,
        "language": t.language,
        "language_probability": t.language_probability,
        "text": t.text,
        "segments": len(t.segments),
        "duration": round(t.duration, 3),
        "model": t.model,
        "task": t.task,
    }


def render(t: Transcript, fmt: str, words: bool = False) -> str:
    """Render one transcript in a text format (``jsonl``: its segment rows as JSON lines)."""
    if fmt == "txt":
        return to_txt(t)
    if fmt == "json":
        return to_json(t, words)
    if fmt == "srt":
        return to_srt(t)
    if fmt == "vtt":
        return to_vtt(t)
    if fmt == "tsv":
        return to_tsv(t)
    if fmt == "jsonl":
        return "".join(json_line(r) + "\n" for r in segment_rows(t))
    raise ValueError(f"{fmt} is not a text format")


def summary_path(table: str | Path) -> Path:
    """Where the per-file summary of a segment table goes: ``out.parquet`` ->
    ``out.files.parquet``."""
    p = Path(table)
    return p.with_name(f"{p.stem}.files{p.suffix}")
