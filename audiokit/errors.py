"""Exceptions and exit codes.

Every error audiokit raises on purpose derives from :class:`AudiokitError`;
the CLI turns them into one line on stderr (``audiokit: <path>: <reason>``)
and an exit code from :class:`ExitStatus`. Nothing here imports click.
"""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes, as documented in the README."""

    OK = 0
    """Every input was processed."""
    FAILED = 1
    """At least one input failed (the others were still processed)."""
    USAGE = 2
    """Bad command line: unknown option, no inputs, conflicting options."""
    ANOMALY = 3
    """``anomaly score --fail-on-anomaly``: some recording scored as an anomaly."""
    LOCKED = 75
    """An output is in use by another audiokit run (sysexits' EX_TEMPFAIL): try again later."""
    INTERRUPTED = 130
    """Interrupted by Ctrl-C (SIGINT) or SIGTERM; no partial outputs are left."""


class AudiokitError(Exception):
    """Base class of every error audiokit raises on purpose.

    Parameters
    ----------
    message
        One line saying what went wrong, without the path.
    path
        The input or output the error is about, if any; the CLI prefixes it.
    """

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __reduce__(self) -> tuple[type, tuple[str, str | None]]:
        # Keep the path when the error crosses a process boundary.
        return (type(self), (self.message, self.path))


class UsageError(AudiokitError):
    """The request itself is wrong (bad option values, no inputs)."""


class InputError(AudiokitError):
    """An input cannot be found, read or listed."""


class DecodeError(InputError):
    """An input exists but is not audio audiokit can decode (corrupt, truncated, unsupported)."""


class OutputError(AudiokitError):
    """An output cannot be written (permissions, existing file, collision with an input)."""


class MissingDependencyError(AudiokitError):
    """An optional component (a model, an extra package) is not installed."""


class ClusterError(AudiokitError):
    """A Dask cluster cannot run the batch: unreachable, another audiokit version on a
    worker, or storage a worker does not share (exit 1, before any work)."""


class LockedError(OutputError):
    """An output is locked by another audiokit run (exit 75)."""


def safe_text(text: str) -> str:
    """``text`` fit for one terminal line: control characters and undecodable bytes escaped.

    A file name holding a newline cannot forge a second message line, an ANSI escape in
    a name is shown, not obeyed, and bytes that are not UTF-8 (kept by the
    ``surrogateescape`` error handler) appear as ``\\xNN``.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        o = ord(ch)
        if 0xDC80 <= o <= 0xDCFF:  # a byte that did not decode
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0xA0:
            out.append(repr(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)
