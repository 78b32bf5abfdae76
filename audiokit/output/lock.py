"""Exclusive locks on outputs, so that overlapping runs never write the same output.

A run takes an ``flock`` on ``.<name>.audiokit.lock`` beside each output table
or file it writes, or on ``<dir>/.audiokit.lock`` for an output directory. A
second run wanting the same output fails at once with :class:`LockedError`
(exit 75, as ``flock -n`` scripts expect), or waits up to ``wait`` seconds.
The lock file holds the owner's pid, for the message, and is removed on release.
The kernel drops the lock when its owner dies, however it dies.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from audiokit.errors import LockedError, OutputError

LOCK_NAME = ".audiokit.lock"


def lock_path(target: str | os.PathLike[str], directory: bool = False) -> Path:
    """The lock file of an output file, or of an output directory."""
    target = Path(target)
    if directory:
        return target / LOCK_NAME
    return target.parent / f".{target.name}.audiokit.lock"


class OutputLock:
    """Hold the lock of one output for the life of a run (a context manager).

    Parameters
    ----------
    target
        The output file or directory.
    directory
        ``target`` is a directory (created if missing).
    wait
        Seconds to wait for another run to release it (0: fail at once).
    shared
        Take the lock shared (a run writing one file into a directory shares the
        directory with others like it, but not with a run that writes the directory).

    The last holder removes the lock file on release (while holding it exclusively,
    so that a run waiting on the old file notices and takes the new one).
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        directory: bool = False,
        wait: float = 0.0,
        shared: bool = False,
    ) -> None:
        self.target = Path(target)
        self.path = lock_path(target, directory)
        self.wait = wait
        self.shared = shared
        self._fd: int | None = None

    def acquire(self) -> None:
        deadline = time.monotonic() + max(0.0, self.wait)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"cannot write: {(exc.strerror or str(exc)).lower()}", str(self.path.parent)
            ) from None
        while True:
            fd = self._open()
            try:
                mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise OutputError(f"cannot lock: {exc.strerror}", str(self.path)) from None
                if time.monotonic() >= deadline:
                    raise self._locked() from None
                time.sleep(0.05)
                continue
            # The previous owner may have removed the file between our open and our lock:
            # then we hold a lock on a name nobody else sees. Try again on the new file.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except OSError:
                same = False
            if not same:
                os.close(fd)
                continue
            if not self.shared:
                try:
                    os.ftruncate(fd, 0)
                    os.write(fd, f"{os.getpid()}\n".encode())
                except OSError:
                    pass  # a full disk: the pid is only for messages
            self._fd = fd
            return

    def _open(self) -> int:
        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise OutputError(
                f"cannot lock: {(exc.strerror or str(exc)).lower()}", str(self.path)
            ) from None

    def _locked(self) -> LockedError:
        owner = ""
        with contextlib.suppress(OSError, ValueError):
            pid = int(self.path.read_text().split()[0])
            owner = f" (pid {pid})"
        hint = "--wait SECONDS to wait for it" if self.wait <= 0 else f"waited {self.wait:g} s"
        return LockedError(
            f"in use by another audiokit run{owner}: lock {self.path}; {hint}", str(self.target)
        )

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            # Remove the file only when nobody else holds it (a shared lock may have
            # company), and while holding it: a run waiting on it then sees a new file.
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
