"""The report as one self-contained HTML page.

Images are ``data:image/png;base64`` URIs, the style sheet is inline, there is no script
and no reference to anything outside the file (no ``http``/``https`` URL, no font, no
link): the page opens from disk, offline, in any browser, and can be mailed as is. Every
text from the data (paths, formats, class names, reasons) is escaped.

Elements carry stable ids and classes for tools and tests: ``#overview``, ``#formats``,
``#samplerates``, ``#channels``, ``#bit-depths``, ``#classes`` (tables whose rows are
``<td class="key">`` and ``<td class="count">``), ``figure.histogram`` (one per measure,
``#hist-<column>``), ``#outliers-<column>`` (a table of ``td.path`` and ``td.value``),
``figure.thumbnail``, ``#failed``, ``#meta``.
"""

from __future__ import annotations

import base64
from html import escape

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

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       margin: 2em auto; max-width: 72em; padding: 0 1.5em; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
h3 { font-size: 1em; margin: 1em 0 0.3em; }
table { border-collapse: collapse; margin: 0.4em 0 1em; }
th, td { padding: 0.15em 0.8em 0.15em 0; text-align: left; vertical-align: top; }
th { border-bottom: 1px solid #bbb; font-weight: 600; }
td.count, td.value { text-align: right; font-variant-numeric: tabular-nums; }
td.path { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em;
          word-break: break-all; }
.counts { display: flex; flex-wrap: wrap; gap: 0 3em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; }
figure.histogram img { width: 450px; max-width: 100%; height: auto; }
figure.thumbnail { width: 240px; }
figure.thumbnail img { width: 240px; height: auto; display: block; }
figcaption { font-size: 0.85em; color: #555; word-break: break-all; }
p.rule, p.note { color: #555; font-size: 0.9em; margin: 0.2em 0; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em;
       word-break: break-all; }
"""


def data_uri(png: bytes) -> str:
    """A PNG as a ``data:`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _img(image: Image) -> str:
    return f'<img src="{data_uri(image.png)}" alt="{escape(image.caption)}">'


def _kv_table(ident: str, rows: list[tuple[str, str]]) -> str:
    body = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td class="value">{escape(v)}</td></tr>'
        for k, v in rows
    )
    return f'<table id="{ident}">{body}</table>'


def _count_table(ident: str, title: str, header: str, counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    body = "".join(
        f'<tr><td class="key">{escape(k)}</td><td class="count">{n}</td>'
        f'<td class="share">{100 * n / total:.1f}%</td></tr>'
        for k, n in counts.items()
    )
    return (
        f'<div><h3>{escape(title)}</h3><table id="{ident}">'
        f"<tr><th>{escape(header)}</th><th>files</th><th>share</th></tr>{body}</table></div>"
    )


def _outliers(page: Page) -> str:
    parts = []
    for ms in page.summary.measures:
        key = ms.measure.key
        unit = escape(ms.measure.unit)
        rows = "".join(
            f'<tr><td class="path">{escape(o.path)}</td><td class="value">{number(o.value)}'
            f'</td><td class="side">{o.side}</td></tr>'
            for o in ms.listed
        )
        table = (
            f'<table id="outliers-{key}" class="outliers"><tr><th>file</th>'
            f"<th>{escape(ms.measure.label)} ({unit})</th><th></th></tr>{rows}</table>"
            if ms.outliers
            else f'<p class="note" id="outliers-{key}">none</p>'
        )
        parts.append(
            f'<h3>{escape(outlier_heading(ms))}</h3><p class="rule">{escape(rule(ms))}</p>{table}'
        )
    return "".join(parts)


def _failed(page: Page) -> str:
    s = page.summary
    if not s.failed:
        return '<p class="note" id="failed">none</p>'
    rows = "".join(
        f'<tr><td class="path">{escape(p)}</td><td>{escape(why)}</td></tr>' for p, why in s.failed
    )
    return f'<table id="failed"><tr><th>file</th><th>reason</th></tr>{rows}</table>'


def _warned(page: Page) -> str:
    if not page.summary.warned:
        return ""
    rows = "".join(
        f'<tr><td class="path">{escape(p)}</td><td>{escape(w)}</td></tr>'
        for p, w in page.summary.warned
    )
    return (
        "<h2>Read with warnings</h2>"
        f'<table id="warned"><tr><th>file</th><th>warning</th></tr>{rows}</table>'
    )


def render(page: Page) -> str:
    """The whole page as HTML text (UTF-8)."""
    s, meta = page.summary, page.meta
    hists = "".join(
        f'<figure class="histogram" id="hist-{ms.measure.key}">{_img(img)}'
        f"<figcaption>{escape(img.caption)}</figcaption></figure>"
        for ms, img in zip(s.measures, page.histograms, strict=True)
    )
    thumbs = "".join(
        f'<figure class="thumbnail">{_img(img)}<figcaption>{escape(img.path)}</figcaption></figure>'
        for img in page.thumbnails
    )
    counts = "".join(_count_table(*t) for t in count_tables(s))
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in page.notes)
    meta_rows = [
        ("audiokit", meta.version),
        ("command", meta.command),
        ("date", meta.date),
    ]
    meta_html = "".join(
        f'<tr><th scope="row">{escape(k)}</th><td><code>{escape(v)}</code></td></tr>'
        for k, v in meta_rows
    )
    thumbs_section = (
        f'<h2>Spectrograms</h2><p class="note">Log-frequency spectrograms (dB re max, 80 dB '
        f"range) of the first seconds of {len(page.thumbnails)} files spread through the "
        f'sorted paths.</p><div class="grid" id="thumbnails">{thumbs}</div>'
        if page.thumbnails
        else ""
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{TITLE}</title><style>{CSS}</style></head><body>"
        f"<h1>{TITLE}</h1>"
        f'<table id="meta">{meta_html}</table>'
        f"<h2>Overview</h2>{_kv_table('overview', overview(s))}"
        f'<div class="counts">{counts}</div>'
        f'<h2>Distributions</h2><div class="grid">{hists}</div>'
        f"<h2>Outliers</h2>{_outliers(page)}"
        f"{thumbs_section}"
        f"<h2>Failed files</h2>{_failed(page)}"
        f"{_warned(page)}{notes}"
        "</body></html>\n"
    )
