"""Inputs of a batch: finding them, and where their outputs go.

:func:`discover` expands what the user named (files, directories, glob
patterns, ``-`` for standard input, ``--files-from`` lists) into an ordered,
de-duplicated list of :class:`Input`, each with the path below its root that
output trees mirror (see :func:`_mirror`; the output layer,
:mod:`audiokit.output.naming`, places outputs with it).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import select
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import IO

from audiokit.audio_io import WALK_EXTENSIONS
from audiokit.errors import InputError, UsageError
from audiokit.output.files import scratch_name, sweep_scratch

STDIN = "-"

#: An argument that matched nothing, with the reason: reported like a failed input.
Problem = tuple["Input", str]


@dataclass(frozen=True)
class Input:
    """One input of a batch.

    Attributes
    ----------
    path : str
        Where to read it (for ``-``, a temporary copy of standard input).
    display : str
        How messages name it: the path as found, or ``-`` for standard input.
    rel : str
        Its path relative to the directory or glob root it was found under (the
        file name for files named directly), used to mirror the input tree
        under an output directory.
    """

    path: str
    display: str
    rel: str

    @property
    def folder(self) -> str:
        """The name of the folder the file is in (its class in ``data/<class>/x.wav``);
        empty for standard input."""
        if self.display == STDIN:
            return ""
        return Path(self.path).resolve().parent.name

    @property
    def stem(self) -> str:
        """File name without its extension (``stdin`` for standard input)."""
        return PurePath(self.rel).stem


def parse_extensions(spec: str | None) -> frozenset[str]:
    """Parse ``"wav,flac"`` into ``{".wav", ".flac"}``; None gives the default audio set."""
    if not spec:
        return WALK_EXTENSIONS
    exts = {("." + e.strip().lower().lstrip(".")) for e in spec.split(",") if e.strip()}
    if not exts:
        raise UsageError(f"no extensions in {spec!r}")
    return frozenset(exts)


#: Seconds a named pipe given as an argument may stay without a writer.
PIPE_TIMEOUT = float(os.environ.get("AUDIOKIT_PIPE_TIMEOUT", "5"))

_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def special_kind(path: str | os.PathLike[str]) -> str | None:
    """``a named pipe``, ``a socket``, ``a ... device``, or None for files and directories."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return next((name for test, name in _SPECIAL if test(mode)), None)


def _walk(root: Path, exts: frozenset[str], notes: list[str] | None = None) -> Iterator[Path]:
    """Files under ``root`` with a wanted extension, sorted, following symlinks once.

    Named pipes, sockets and devices met on the way are skipped (reading one could
    block forever), each with a note in ``notes``.
    """
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop, or a second link to a directory already walked
            dirnames[:] = []
            continue
        seen.add(key)
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in exts:
                path = Path(dirpath) / name
                kind = special_kind(path)
                if kind is None:
                    yield path
                elif notes is not None:
                    notes.append(f"{path}: skipped: {kind}, not a file")


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def _glob_root(pattern: str) -> Path:
    parts = Path(pattern).parts
    root: list[str] = []
    for part in parts:
        if _has_magic(part):
            break
        root.append(part)
    return Path(*root) if root else Path(".")


def _sniff_suffix(head: bytes) -> str:
    if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
        return ".wav"
    if head[:4] == b"fLaC":
        return ".flac"
    if head[:4] == b"OggS":
        return ".ogg"
    if head[:4] in (b"FORM",):
        return ".aiff"
    if head[:3] == b"ID3" or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return ".mp3"
    # What only ffmpeg decodes: the suffix routes the spooled copy to it, as for a path.
    if head[4:8] == b"ftyp":
        return ".m4a"
    if head[:4] == b"\x30\x26\xb2\x75":  # ASF (WMA)
        return ".wma"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # Matroska / WebM
        return ".mka"
    if head[:2] in (b"\xff\xf1", b"\xff\xf9"):  # AAC in ADTS frames
        return ".aac"
    if head[:5] == b"#!AMR":
        return ".amr"
    if head[:4] == b"wvpk":
        return ".wv"
    if head[:4] == b"MAC ":
        return ".ape"
    if head[:2] == b"\x0b\x77":
        return ".ac3"
    return ".audio"


def _spool(stream: IO[bytes], suffix: str | None = None) -> str:
    """Copy a stream (standard input, a pipe) to a temporary file removed at exit.

    The file's extension is ``suffix``, or sniffed from the stream's first bytes.
    Returns its path.
    """

    head = stream.read(64)
    sweep_scratch(tempfile.gettempdir())  # spools of killed runs
    fd, tmp = tempfile.mkstemp(prefix=scratch_name("stream"), suffix=suffix or _sniff_suffix(head))
    atexit.register(_unlink_quietly, tmp)
    with os.fdopen(fd, "wb") as out:
        out.write(head)
        while chunk := stream.read(1 << 20):
            out.write(chunk)
    return tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def read_files_from(source: str, stdin: IO[bytes] | None = None) -> list[str]:
    """Paths listed one per line in ``source`` (``-``: standard input); blanks and ``#`` skipped."""
    try:
        if source == STDIN:
            data = (stdin or sys.stdin.buffer).read()
        else:
            data = Path(source).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the list of files: {exc.strerror or exc}", source) from None
    lines = data.decode("utf-8", errors="surrogateescape").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def discover(
    paths: Sequence[str],
    files_from: str | None = None,
    extensions: frozenset[str] = WALK_EXTENSIONS,
    stdin: IO[bytes] | None = None,
    exclude: Sequence[str | os.PathLike[str]] = (),
    notes: list[str] | None = None,
) -> tuple[list[Input], list[Problem]]:
    """Expand command-line paths into an ordered, de-duplicated list of inputs.

    Parameters
    ----------
    paths
        Files (taken whatever their extension), directories (walked recursively,
        files filtered by ``extensions``), glob patterns (``**`` recurses) and
        ``-`` for audio on standard input. Standard input and named pipes
        (``<(sox ...)``, ``mkfifo``) given as arguments are copied to temporary
        files first, so that every reader can seek (a pipe with no data within
        :data:`PIPE_TIMEOUT` seconds is a problem, not a hang); pipes, sockets and
        devices met while walking a directory are skipped with a note.
    files_from
        A file listing one path per line (``-``: standard input); each line is
        expanded like a command-line path.
    extensions
        Extensions (lower case, with the dot) kept when walking directories
        and expanding globs.
    stdin
        Binary stream for ``-`` (defaults to ``sys.stdin.buffer``).
    exclude
        Outputs of this run (files or directories): never picked up when walking
        directories or expanding globs, so ``preprocess data/ -o data/clean/`` does not
        read its own earlier outputs.
    notes
        Collects one line per special file (named pipe, socket, device) skipped
        while walking a directory.

    Returns
    -------
    inputs : list of Input
        In argument order; within a directory or glob, sorted by path.
        A file reached twice is listed once.
    problems : list of (Input, str)
        Arguments that matched nothing (missing paths, empty globs, directories
        without audio); the caller reports them like failed inputs.
    """
    stdin = stdin if stdin is not None else sys.stdin.buffer
    args = list(paths)
    if files_from is not None:
        if files_from == STDIN and STDIN in args:
            raise UsageError("standard input cannot be both audio ('-') and --files-from -")
        args += read_files_from(files_from, stdin)
    if not args:
        raise UsageError("no inputs: give files, directories, glob patterns, '-' or --files-from")

    inputs: list[Input] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    excluded = [os.path.realpath(e) for e in exclude]

    tops: dict[Path, list[str]] = {}

    def is_excluded(path: Path, root: Path) -> bool:
        # Only outputs strictly inside the tree being walked: an output equal to the tree
        # (or above it) is left to the output planner, which refuses to overwrite inputs.
        inside = tops.get(root)
        if inside is None:
            top = os.path.realpath(root) + os.sep
            inside = tops[root] = [e for e in excluded if e.startswith(top)]
        if not inside:
            return False
        real = os.path.realpath(path)
        return any(real == e or real.startswith(e + os.sep) for e in inside)

    bases: list[str | None] = []

    def add(path: Path, rel: PurePath | str, base: Path) -> None:
        key = os.path.realpath(path)
        if key in seen:
            return
        seen.add(key)
        inputs.append(Input(path=str(path), display=str(path), rel=str(rel)))
        bases.append(os.path.abspath(base))

    for arg in args:
        if arg == STDIN:
            if any(i.display == STDIN for i in inputs):
                continue
            tmp = _spool(stdin)
            inputs.append(Input(path=tmp, display=STDIN, rel="stdin" + Path(tmp).suffix))
            bases.append(None)
            continue
        p = Path(arg)
        if _is_pipe(p):  # a named pipe, or <(sox ...): read once, like standard input
            if arg in seen:
                continue
            seen.add(arg)
            try:
                with _open_pipe(p, PIPE_TIMEOUT) as stream:
                    tmp = _spool(stream, p.suffix.lower() or None)
            except InputError as exc:
                problems.append((_named(arg), exc.message))
                continue
            except OSError as exc:
                problems.append((_named(arg), f"cannot read: {exc.strerror or exc}"))
                continue
            name = p.name if p.suffix else p.name + Path(tmp).suffix
            inputs.append(Input(path=tmp, display=arg, rel=name))
            bases.append(None)
            continue
        if p.is_dir():
            found = False
            for f in _walk(p, extensions, notes):
                if not is_excluded(f, p):
                    add(f, f.relative_to(p), p)
                    found = True
            if not found:
                problems.append((_named(arg), "no audio files in this directory"))
        elif p.exists() or p.is_symlink() or not _has_magic(arg):
            add(p, p.name, p.parent)  # named directly: any extension; errors surface later
        else:
            root = _glob_root(arg)
            explicit_ext = not _has_magic(Path(arg).suffix) and Path(arg).suffix != ""
            matches = sorted(glob.glob(arg, recursive=True))
            files = [
                Path(m)
                for m in matches
                if Path(m).is_file()
                and (explicit_ext or Path(m).suffix.lower() in extensions)
                and not is_excluded(Path(m), root)
            ]
            if not files:
                problems.append((_named(arg), "no files match this pattern"))
            for f in files:
                try:
                    rel: PurePath = f.relative_to(root)
                    base = root
                except ValueError:
                    rel, base = PurePath(f.name), f.parent
                add(f, rel, base)
    return _mirror(inputs, bases), problems


def _mirror(inputs: list[Input], bases: list[str | None]) -> list[Input]:
    """Make every input's ``rel`` relative to one place, so that output trees never merge.

    Inputs found under one root (a directory, a glob's fixed part, or the folder of
    files named directly) keep their path below it. Inputs from several roots are
    placed below the roots' common parent: ``a/x.wav`` and ``b/x.wav`` become
    ``a/x.wav`` and ``b/x.wav`` (not two ``x.wav``), whether they were found by
    walking ``a`` and ``b`` or named one by one (``--files-from``).
    """
    roots = {b for b in bases if b is not None}
    if len(roots) <= 1:
        return inputs
    common = os.path.commonpath(sorted(roots))
    out = []
    for inp, base in zip(inputs, bases, strict=True):
        if base is None:
            out.append(inp)
            continue
        rel = os.path.relpath(os.path.join(base, inp.rel), common)
        out.append(Input(path=inp.path, display=inp.display, rel=rel))
    return out


@contextlib.contextmanager
def _open_pipe(path: Path, timeout: float) -> Iterator[IO[bytes]]:
    """Open a named pipe for reading, waiting at most ``timeout`` s for a writer's data.

    A plain ``open`` blocks until something opens the other end, forever if nothing
    does (a stray FIFO in a nightly job): here the wait is bounded.
    """

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        if not poller.poll(max(0.0, timeout) * 1000):
            raise InputError(f"a named pipe with nothing written to it within {timeout:g} s")
        os.set_blocking(fd, True)
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with stream:
        yield stream


def _is_pipe(path: Path) -> bool:
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode)
    except OSError:
        return False


def _named(arg: str) -> Input:
    return Input(path=arg, display=arg, rel=Path(arg).name)
