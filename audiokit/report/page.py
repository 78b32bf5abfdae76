"""What both page formats show, as plain values and text: the page model and its formatting.

:class:`Page` gathers the summary, the pictures and where the report comes from;
:mod:`audiokit.report.html` and :mod:`audiokit.report.markdown` lay it out. The cells
(:func:`sections`) are computed once here, so the two formats say the same thing.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field

from audiokit.report.figures import Image
from audiokit.report.summary import K, MeasureSummary, Summary

TITLE = "Dataset report"


@dataclass(frozen=True)
class Meta:
    """Where a report comes from.

    Attributes
    ----------
    version : str
        audiokit's version.
    command : str
        The exact command line (shell-quoted, program name ``audiokit``).
    date : str
        When it was made (ISO 8601, UTC).
    """

    version: str
    command: str
    date: str


def command_line(argv: Sequence[str]) -> str:
    """``sys.argv`` as one shell-quoted line with the program named ``audiokit``."""
    return shlex.join(["audiokit", *argv[1:]])


@dataclass(frozen=True)
class Page:
    """Everything a report page shows.

    Attributes
    ----------
    summary : Summary
    meta : Meta
    histograms : list of Image
        One per measure of the summary, same order.
    thumbnails : list of Image
    notes : list of str
        Lines about the run (thumbnails that failed, ...).
    """

    summary: Summary
    meta: Meta
    histograms: list[Image] = field(default_factory=list)
    thumbnails: list[Image] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def clock(seconds: float) -> str:
    """``h:mm:ss`` (``1:02:03``), with tenths under a minute (``12.5 s``)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def size(n: int) -> str:
    """Bytes in B, KiB, MiB, GiB or TiB."""
    v = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if v < 1024:
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"


def number(v: float) -> str:
    """A measured value, with enough digits to tell outliers from the median."""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "-inf" if v < 0 else "inf"
    if v == 0:
        return "0"
    if abs(v) >= 1000 or abs(v) < 1e-3:
        return f"{v:.3g}"
    return f"{v:.4g}"


def overview(s: Summary) -> list[tuple[str, str]]:
    """The headline rows: files, failures, total duration and hours, size."""
    return [
        ("files", str(s.files)),
        ("failed", str(len(s.failed))),
        ("total duration", f"{clock(s.total_seconds)} ({s.total_hours:.3f} h)"),
        ("total seconds", f"{s.total_seconds:.3f}"),
        ("total size", size(s.total_bytes)),
    ]


def count_tables(s: Summary) -> list[tuple[str, str, str, dict[str, int]]]:
    """``(id, title, value header, counts)`` of each count table (class balance included)."""
    tables = [
        ("formats", "Formats", "format", s.formats),
        ("samplerates", "Sample rates", "Hz", s.samplerates),
        ("channels", "Channels", "channels", s.channels),
        ("bit-depths", "Bit depths", "bits", s.bit_depths),
    ]
    if s.classes is not None:
        tables.append(("classes", "Class balance (parent folder)", "class", s.classes))
    return tables


def rule(ms: MeasureSummary) -> str:
    """The outlier rule of a measure, with its numbers."""
    m = ms.measure
    unit = f" {m.unit}" if m.unit else ""
    if math.isnan(ms.median):
        return "no finite values"
    return (
        f"median {number(ms.median)}{unit}, MAD {number(ms.mad)}; outliers are beyond "
        f"median ± {number(ms.bound)} = [{number(ms.low)}, {number(ms.high)}] "
        f"(max({K:g} × 1.4826 × MAD, {m.floor:g}"
        + (f" + {m.relative:g} × |median|" if m.relative else "")
        + ")); ±inf values always are"
    )


def outlier_heading(ms: MeasureSummary) -> str:
    """``duration: 3 outliers (of 20 files)``, saying when the list is cut."""
    n = len(ms.outliers)
    head = f"{ms.measure.label}: {n} outlier{'s' if n != 1 else ''}"
    if n > len(ms.listed):
        head += f" (the {len(ms.listed)} most extreme listed)"
    return head
