"""The report as Markdown, its pictures as PNG files in a directory beside it.

``report.md`` refers to ``report_files/hist-duration.png``, ``report_files/thumb-000.png``...
by relative links (the directory is :func:`files_dir`), so the pair renders in any Markdown
viewer and in repositories. Text from the data is escaped (a ``|`` in a path cannot break a
table, a ``*`` cannot start emphasis).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

from audiokit.report.figures import Image
from audiokit.report.page import (
    TITLE,
    Page,
    count_tables,
    number,
    outlier_heading,
    overview,
    rule,
)

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def files_dir(report: str | Path) -> Path:
    """The pictures' directory of a Markdown report (``a/r.md`` -> ``a/r_files``)."""
    p = Path(report)
    return p.with_name(p.stem + "_files")


def esc(text: str) -> str:
    """Markdown-escaped text, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def code(text: str) -> str:
    """Text as a code span that a table cell can hold (``|`` escaped as GFM asks)."""
    return "`" + " ".join(text.split()).replace("`", "'").replace("|", "\\|") + "`"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return [*lines, ""]


def _link(folder: str, image: Image) -> str:
    return f"![{esc(image.caption)}]({quote(folder)}/{quote(image.name)})"


def render(page: Page, folder: str) -> str:
    """The page as Markdown text; images are linked as ``folder/<image name>``."""
    s, meta = page.summary, page.meta
    out = [f"# {TITLE}", ""]
    out += _table(
        ["", ""],
        [
            ["audiokit", esc(meta.version)],
            ["command", code(meta.command)],
            ["date", esc(meta.date)],
        ],
    )
    out += ["## Overview", ""]
    out += _table(["", ""], [[esc(k), esc(v)] for k, v in overview(s)])
    for _, title, header, counts in count_tables(s):
        total = sum(counts.values()) or 1
        out += [f"### {esc(title)}", ""]
        out += _table(
            [esc(header), "files", "share"],
            [[esc(k), str(n), f"{100 * n / total:.1f}%"] for k, n in counts.items()],
        )
    out += ["## Distributions", ""]
    for img in page.histograms:
        out += [_link(folder, img), ""]
    out += ["## Outliers", ""]
    for ms in s.measures:
        out += [f"### {esc(outlier_heading(ms))}", "", esc(rule(ms)), ""]
        if ms.outliers:
            out += _table(
                ["file", f"{esc(ms.measure.label)} ({esc(ms.measure.unit)})", ""],
                [[esc(o.path), number(o.value), o.side] for o in ms.listed],
            )
    if page.thumbnails:
        out += ["## Spectrograms", ""]
        for img in page.thumbnails:
            out += [f"{_link(folder, img)} {esc(img.path)}", ""]
    out += ["## Failed files", ""]
    if s.failed:
        out += _table(["file", "reason"], [[esc(p), esc(why)] for p, why in s.failed])
    else:
        out += ["none", ""]
    if s.warned:
        out += ["## Read with warnings", ""]
        out += _table(["file", "warning"], [[esc(p), esc(w)] for p, w in s.warned])
    out += [esc(n) for n in page.notes]
    return "\n".join(out).rstrip() + "\n"
