"""Writing a report through the output layer: atomic, never replacing without leave.

HTML is one file (:func:`audiokit.output.files.staged`); Markdown is the ``.md`` file and
its PNGs in ``<stem>_files/``, committed as one set (:func:`audiokit.output.files.commit_set`:
all of them or none, finished by the next run if a kill interrupts the commit).
:func:`check` refuses an existing report before any work, as tables are refused.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from audiokit.errors import UsageError
from audiokit.output import files
from audiokit.output.policy import EXISTS_HINT
from audiokit.report import html, markdown
from audiokit.report.page import Page

#: Report formats by file extension.
FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


def report_format(target: str | os.PathLike[str]) -> str:
    """``html`` or ``markdown``, from the extension of ``-o``.

    Raises
    ------
    UsageError
        Another extension.
    """
    suffix = Path(target).suffix.lower()
    if suffix not in FORMATS:
        raise UsageError(f"-o {target}: a report is .html or .md (or '-' for HTML on stdout)")
    return FORMATS[suffix]


def outputs(target: str | os.PathLike[str]) -> list[Path]:
    """What a report at ``target`` may replace: the file (and a Markdown report's directory)."""
    t = Path(target)
    return [t, markdown.files_dir(t)] if report_format(t) == "markdown" else [t]


def check(target: str | os.PathLike[str], replace: bool) -> None:
    """Refuse (before any work) a report whose file, or pictures' directory, exists.

    Raises
    ------
    UsageError
        It exists and ``replace`` is False, or ``-o`` names a directory.
    """
    t = Path(target)
    if t.is_dir():
        raise UsageError(f"-o {target} is a directory: name a .html or .md file")
    if replace:
        return
    for path in outputs(t):
        if path.is_file() or (path.is_dir() and any(path.iterdir())):
            raise UsageError(f"{path}: {EXISTS_HINT}")


def write(page: Page, target: str | os.PathLike[str], *, replace: bool) -> list[Path]:
    """Write the report (its format from the extension); return the files written.

    Raises
    ------
    OutputError
        A file cannot be written, or exists and ``replace`` is False (nothing is left
        half-written: what this call made is undone).
    """
    t = Path(target)
    if report_format(t) == "html":
        with files.staged(t, replace=replace) as tmp:
            tmp.write_text(html.render(page), encoding="utf-8")
        return [t]
    folder = markdown.files_dir(t)
    images = [*page.histograms, *page.thumbnails]
    pairs: list[tuple[Path, Path]] = []
    try:
        with files.signals_held():
            pairs.append((files.temp_path(t), t))
            for img in images:
                pairs.append((files.temp_path(folder / img.name), folder / img.name))
        pairs[0][0].write_text(markdown.render(page, folder.name), encoding="utf-8")
        for (tmp, _), img in zip(pairs[1:], images, strict=True):
            tmp.write_bytes(img.png)
    except BaseException as exc:
        for tmp, _ in pairs:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, OSError):
            raise files.os_error(exc, t) from None
        raise
    files.commit_set(pairs, replace=replace)
    return [target for _, target in pairs]


def html_text(page: Page) -> str:
    """The HTML page (for ``-o -``)."""
    return html.render(page)
