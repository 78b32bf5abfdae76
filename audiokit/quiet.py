"""Keep third-party chatter off the user's terminal: capture it per task and summarise it.

Decoder libraries write to file descriptor 2 themselves (libmpg123 prints up to
dozens of lines for one damaged MP3), cffi prints "Exception ignored" tracebacks,
and NumPy and librosa emit Python warnings with source lines. None of that is
audiokit's one-line-per-problem output. :func:`captured` runs a task with fd 2,
``sys.stderr`` and the warnings machinery pointed at a private temporary file,
then hands back one summary line per source (or nothing), which the batch engine
reports as the input's warnings.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

#: Most characters of captured text kept for the summary line.
MAX_LINE = 160


@dataclass
class Captured:
    """What a task printed (fd 2 and ``sys.stderr``) and the warnings it raised."""

    text: str = ""
    warnings: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per kind of noise: ``decoder said: ...``, ``warning: ...``."""
        out = []
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        if lines:
            first = lines[0][:MAX_LINE]
            more = f" (+{len(lines) - 1} more lines)" if len(lines) > 1 else ""
            out.append(f"library output: {first}{more}")
        seen: list[str] = []
        for w in self.warnings:
            if w not in seen:
                seen.append(w)
        for w in seen[:3]:
            out.append(f"warning: {w[:MAX_LINE]}")
        return out


_sink: IO[bytes] | None = None
_sink_pid = -1
_silenced = False


def silence() -> None:
    """From now on this process prints nothing (a worker told to stop: what its
    teardown prints is not for users). A capture in progress keeps it so."""
    global _silenced
    _silenced = True
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    with contextlib.suppress(Exception):
        sys.stderr = open(os.devnull, "w")


def _file() -> IO[bytes]:
    """This process's capture file (an unlinked temporary file, reused and emptied)."""
    global _sink, _sink_pid
    if _sink is None or _sink_pid != os.getpid():
        _sink = tempfile.TemporaryFile()
        _sink_pid = os.getpid()
    return _sink


@contextlib.contextmanager
def captured() -> Iterator[Captured]:
    """Run the block with stderr (fd 2 and ``sys.stderr``) and warnings captured.

    When fd 2 cannot be redirected (no fd 2, an odd platform), only Python-level
    output is captured.
    """
    result = Captured()
    sink = _file()
    sink.seek(0)
    sink.truncate()
    old_stderr = sys.stderr
    with contextlib.suppress(Exception):
        old_stderr.flush()
    saved = -1
    try:
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
    except OSError:
        saved = -1
    text = io.TextIOWrapper(
        os.fdopen(os.dup(sink.fileno()), "wb", buffering=0), errors="backslashreplace"
    )
    sys.stderr = text
    try:
        with warnings.catch_warnings(record=True) as caught:
            # What a user can act on; deprecations and the like are for developers.
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", RuntimeWarning)
            warnings.simplefilter("always", UserWarning)
            yield result
        result.warnings = [_describe(w) for w in caught]
    finally:
        with contextlib.suppress(Exception):
            text.flush()
        sys.stderr = old_stderr
        with contextlib.suppress(Exception):
            text.close()
        if saved >= 0:
            os.dup2(saved, 2)
            os.close(saved)
        if _silenced:
            silence()
        sink.seek(0)
        result.text = sink.read(1 << 16).decode("utf-8", "replace")


def _describe(w: warnings.WarningMessage) -> str:
    message = str(w.message).strip().splitlines()
    if type(w.message).__module__.startswith("audiokit"):  # our own words, as they are
        return message[0] if message else w.category.__name__
    where = os.path.basename(w.filename) if w.filename else ""
    origin = where.split(".")[0] if where else w.category.__name__
    return f"{message[0] if message else w.category.__name__} ({origin})"
