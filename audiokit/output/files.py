"""Staging and committing output files: atomic, never clobbering, recoverable.

Every output is written to a temporary file beside its target, named
``.<target name>.audiokit-<pid>-<random>.tmp<suffix>`` (the target's suffix is
kept, so libraries that pick a format from the name still work), and
*committed* when complete:

- without permission to replace, by ``os.link(tmp, target)``, which fails when the
  target exists, however late another process created it (then ``tmp`` goes away
  and the input fails with "exists"); on file systems without hard links, a
  check and a rename, made race-free among audiokit runs by the output lock;
- with permission (``--overwrite``, ``--update``), by ``os.replace``.

Outputs made of several files (the segments of one input, a table and its
companion) are committed as a *set*: a journal listing the files is written
first, the files are committed last-to-first, and the journal is removed. A run
killed in the middle leaves the journal; the next run over the same directory
finishes the set (:func:`sweep`), so a set is either absent or complete.

:func:`sweep` also removes the temporaries of audiokit processes that died
(their pid is in the name); those of live processes are left alone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from audiokit.errors import OutputError
from audiokit.output.policy import EXISTS_HINT

_TAG = "audiokit"
#: ``.<name>.audiokit-<pid>-<token>.tmp[.<suffix>]``
_TMP_RE = re.compile(r"^\..+\.audiokit-(?P<pid>\d+)-[0-9a-f]+\.tmp(\.[^./]*)?$")
#: ``.<name>.audiokit-<pid>-<token>.set.json``
_JOURNAL_RE = re.compile(r"^\..+\.audiokit-(?P<pid>\d+)-[0-9a-f]+\.set\.json$")
#: Temporaries in a temporary directory: ``audiokit-<what>-<pid>-...``
_SCRATCH_RE = re.compile(r"^audiokit-[a-z]+-(?P<pid>\d+)-")


def os_error(exc: OSError, path: str | os.PathLike[str]) -> OutputError:
    """One line for a failed write: ``no space left on device``, ``permission denied``..."""
    text = str(exc)
    reason = (exc.strerror or text.splitlines()[0] if text else type(exc).__name__).lower()
    # pyarrow and libsndfile report errno in their message text, not in exc.errno.
    if exc.errno == errno.ENOSPC or "no space left" in text.lower():
        reason = "no space left on device"
    elif exc.errno == errno.EDQUOT or "quota exceeded" in text.lower():
        reason = "disk quota exceeded"
    return OutputError(f"cannot write: {reason}", os.fspath(path))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_path(target: str | os.PathLike[str], kind: str = "tmp") -> Path:
    """Create and return an empty temporary file beside ``target`` (parents created)."""
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise os_error(exc, target.parent) from None
    suffix = target.suffix if kind == "tmp" else ""
    name = target.name[:150]  # stay under NAME_MAX with the tag
    for _ in range(16):
        tmp = target.parent / f".{name}.{_TAG}-{os.getpid()}-{os.urandom(4).hex()}.{kind}{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        except OSError as exc:
            raise os_error(exc, target) from None
        os.close(fd)
        return tmp
    raise OutputError("cannot create a temporary file", str(target))  # pragma: no cover


def commit(tmp: Path, target: Path, replace: bool) -> None:
    """Move a finished temporary file to ``target``; never replaces one unless ``replace``.

    Raises
    ------
    OutputError
        ``target`` exists (and ``replace`` is False), or the move failed; ``tmp`` is
        removed either way.
    """
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        if replace:
            os.replace(tmp, target)
            return
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise OutputError(EXISTS_HINT, str(target)) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV):
                raise
            # No hard links here (FAT, some FUSE and SMB mounts): the output lock keeps
            # other audiokit runs out; check as late as possible.
            if os.path.lexists(target):
                raise OutputError(EXISTS_HINT, str(target)) from None
            os.rename(tmp, target)
            return
        os.unlink(tmp)
    except OSError as exc:
        raise os_error(exc, target) from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                tmp.unlink()


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back for the block: their handlers run right after it.

    Around creating a temporary file and recording it: a stop signal in between
    would leave a file nobody knows to remove. (A signal mask would not do: the
    kernel then hands the signal to another thread, OpenBLAS's say, and Python runs
    the handler in the block anyway.) Outside the main thread, nothing is held.
    """

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list[tuple[signal.Signals, Any]] = []

    def record(signum: int, frame: Any) -> None:
        got.append((signal.Signals(signum), frame))

    old = {s: signal.signal(s, record) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if got:
            signum, frame = got[0]
            handler = old[signum]
            if callable(handler):
                handler(signum, frame)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)


@contextlib.contextmanager
def staged(target: str | os.PathLike[str], replace: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; commit it when the block ends cleanly.

    On any exception (interrupts included) the temporary file is removed and the
    target is left as it was. OSErrors raised in the block become one
    :class:`OutputError` line naming ``target``.
    """
    target = Path(target)
    tmp: Path | None = None
    try:
        with signals_held():
            tmp = temp_path(target)
        yield tmp
    except OSError as exc:
        if tmp is not None:
            _unlink(tmp)
        raise os_error(exc, target) from None
    except BaseException:
        if tmp is not None:
            _unlink(tmp)
        raise
    commit(tmp, target, replace)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def commit_set(pairs: Sequence[tuple[Path, Path]], replace: bool) -> None:
    """Commit several finished temporaries as one output: all of them, or none.

    The journal written first lets the next run finish a set that a kill interrupted
    (:func:`sweep`). Without ``replace``, a target that already exists undoes what
    this call committed and raises.
    """
    if len(pairs) == 1:
        commit(*pairs[0], replace)
        return
    if not pairs:
        return
    journal: Path | None = None
    try:
        with signals_held():
            journal = temp_path(pairs[0][1], kind="set.json")
        record = {"replace": replace, "files": [[str(t), str(d)] for t, d in pairs]}
        journal.write_text(json.dumps(record))
    except BaseException as exc:
        if journal is not None:
            _unlink(journal)
        for tmp, _ in pairs:
            _unlink(tmp)
        if isinstance(exc, OSError):
            raise os_error(exc, pairs[0][1]) from None
        raise
    done: list[Path] = []
    try:
        for tmp, target in reversed(pairs):  # the first file last: it marks the set complete
            commit(tmp, target, replace)
            done.append(target)
    except BaseException:
        if not replace:  # undo: what this call linked is ours alone
            for target in done:
                _unlink(target)
        for tmp, _ in pairs:
            _unlink(tmp)
        _unlink(journal)
        raise
    _unlink(journal)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def sweep(directory: str | os.PathLike[str]) -> int:
    """Finish the interrupted sets and remove the temporaries of dead audiokit processes.

    Only names audiokit gives its own temporaries are touched, and only when the
    process that made them (its pid is in the name) is gone. Returns how many
    files were removed or committed.
    """
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    count = 0
    for name in names:  # journals first: they finish sets with the temporaries they list
        m = _JOURNAL_RE.match(name)
        if m and not _alive(int(m["pid"])):
            count += _finish_set(Path(directory, name))
    for name in names:
        m = _TMP_RE.match(name)
        if m and not _alive(int(m["pid"])):
            path = Path(directory, name)
            if path.exists():
                _unlink(path)
                count += 1
    return count


def _finish_set(journal: Path) -> int:
    try:
        record = json.loads(journal.read_text())
        files = [(Path(t), Path(d)) for t, d in record["files"]]
        replace = bool(record["replace"])
    except (OSError, ValueError, KeyError, TypeError):
        _unlink(journal)
        return 0
    n = 0
    for tmp, target in reversed(files):
        if tmp.exists():
            with contextlib.suppress(OutputError):
                commit(tmp, target, replace)
                n += 1
    _unlink(journal)
    return n


def scratch_name(what: str) -> str:
    """Prefix of a scratch file or directory in the temporary directory (with this pid)."""
    return f"{_TAG}-{what}-{os.getpid()}-"


def sweep_scratch(directory: str | os.PathLike[str]) -> int:
    """Remove scratch files and directories (:func:`scratch_name`) of dead processes."""

    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    count = 0
    for name in names:
        m = _SCRATCH_RE.match(name)
        if not m or _alive(int(m["pid"])):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)
        count += 1
    return count
