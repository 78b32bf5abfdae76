"""The process pool: ordered parallel map over forked workers that survives their deaths.

:func:`imap` runs ``fn(item)`` for each item of an iterable in worker processes
and yields ``(index, result)`` in item order. It is the one pool of audiokit:
the batch engine maps its tasks over inputs with it, and ``features`` maps the
blocks of one long file with it.

Each worker is a forked process with its own pipe; the parent knows which items
each worker holds, in the order it runs them. So when a worker dies (the OOM
killer, a crashing decoder, a stray ``kill -9``), the parent knows the item it
was running: that item is tried once more in a fresh worker, and if that worker
dies too the item's result is :class:`Lost` with the reason ("worker killed by
signal 9 (out of memory?)"); the items queued behind it are sent elsewhere, and
the map goes on. No shared queues or semaphores: a dead worker cannot wedge the
others.

Workers never outlive the parent: on Linux they ask the kernel for SIGKILL when
the parent dies (``PR_SET_PDEATHSIG``), so a killed parent leaves no process
holding its caller's pipes. On Ctrl-C or SIGTERM the parent sends SIGTERM (a
worker then unwinds its task, whose temporary files go away) and kills what is
left after :data:`STOP_GRACE` seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from audiokit import quiet
from audiokit.output.files import signals_held

#: Seconds workers get to stop after SIGTERM before they are killed.
STOP_GRACE = 1.5


@dataclass(frozen=True)
class Lost:
    """The result of an item whose worker died, twice: ``reason`` says how."""

    reason: str


@dataclass(frozen=True)
class Raised:
    """The result of an item whose ``fn`` raised (``fn`` is expected to catch errors)."""

    reason: str
    detail: str


def default_jobs() -> int:
    """Number of usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def death_reason(exitcode: int | None) -> str:
    """Why a worker ended, as the reason of a failure."""
    if exitcode is not None and exitcode < 0:
        sig = -exitcode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        if sig == signal.SIGKILL:
            return f"worker killed by signal {sig} (out of memory?)"
        return f"worker killed by signal {sig} ({name})"
    return f"worker exited with status {exitcode}"


def _context() -> Any:
    # fork starts workers in milliseconds and shares what the parent imported and warmed up.
    # (multiprocessing is imported here: a run of one input in-process never pays for it.)
    import multiprocessing

    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()  # pragma: no cover


def _exit_worker(signum: int, frame: Any) -> None:
    # SystemExit unwinds the running task (its temporary files are removed) and then
    # ends the worker, which has nothing left to say. A second signal (Ctrl-C reaches
    # the whole group, then the parent sends SIGTERM) must not cut that cleanup short:
    # later ones do nothing (a no-op handler, not SIG_IGN: Python would raise "signal
    # ignored due to race condition" for one already on its way).
    signal.signal(signal.SIGTERM, _ignore)
    signal.signal(signal.SIGINT, _ignore)

    quiet.silence()
    raise SystemExit(128 + signum)


def _ignore(signum: int, frame: Any) -> None:
    return None


def _die_with_parent(parent: int) -> None:
    """Have the kernel kill this worker when the parent dies, however it dies (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes  # here: only workers need it

        with contextlib.suppress(Exception):
            ctypes.CDLL(None).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before that took effect
        os._exit(1)


def _worker(
    conn: Any, fn: Callable[[Any], Any], init: Callable[[], None] | None, parent: int
) -> None:
    """A worker's life: take chunks of ``(index, item)``, send ``(index, result)`` as each ends."""
    _die_with_parent(parent)
    signal.signal(signal.SIGTERM, _exit_worker)
    # Ctrl-C reaches the whole process group; a parent that ignores it (a background
    # job of a script) keeps its workers going too.
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _exit_worker)
    if init is not None:
        init()
    while True:
        try:
            chunk = conn.recv()
        except (EOFError, OSError):
            return
        if chunk is None:
            return
        for index, item in chunk:
            try:
                result = fn(item)
            except Exception as exc:
                result = Raised(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            try:
                conn.send((index, result))
            except (BrokenPipeError, EOFError, ConnectionError):
                return
            except Exception as exc:  # a result that cannot be pickled
                conn.send((index, Raised(f"cannot return the result: {exc}", "")))


class _Proc:
    """A worker process, its end of the pipe, and the items it holds, in running order."""

    def __init__(self, ctx: Any, fn: Callable[[Any], Any], init: Callable[[], None] | None) -> None:
        ours, theirs = ctx.Pipe(duplex=True)
        self.conn = ours
        self.held: deque[int] = deque()
        self.proc = ctx.Process(target=_worker, args=(theirs, fn, init, os.getpid()))

        # A Ctrl-C during the fork would find the new worker without its handlers yet
        # (a traceback from multiprocessing's bootstrap): the parent takes it after.
        with signals_held():
            self.proc.start()
        theirs.close()

    def send(self, chunk: list[tuple[int, Any]]) -> None:
        self.held.extend(i for i, _ in chunk)
        with contextlib.suppress(OSError, ValueError):  # dead already: its sentinel tells
            self.conn.send(chunk)


def imap(
    fn: Callable[[Any], Any],
    items: Iterable[Any],
    jobs: int,
    *,
    chunk: int = 1,
    window: int | None = None,
    init: Callable[[], None] | None = None,
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, fn(item))`` for every item, in order, computed in ``jobs`` workers.

    Parameters
    ----------
    fn
        Runs in the workers (inherited through fork: it need not be picklable, but
        items and results are sent through pipes and must be). It should catch its
        own errors; one that escapes gives a :class:`Raised` result.
    items
        Read lazily, as workers need more.
    jobs
        Worker processes.
    chunk
        Items sent to a worker at a time (short items cost less than a round trip).
    window
        Most items read but not yet yielded (bounds memory when items are big).
    init
        Runs once in each worker before its first item.

    Yields
    ------
    index : int
    result
        ``fn(item)``, or :class:`Lost` when the item's worker died twice, or
        :class:`Raised`.
    """
    from multiprocessing.connection import wait

    ctx = _context()
    source = enumerate(items)
    exhausted = False
    window = window or max(jobs * chunk * 8, 64)
    queued: deque[list[tuple[int, Any]]] = deque()
    held: dict[int, Any] = {}  # index -> item, until its result is yielded
    results: dict[int, Any] = {}
    retried: set[int] = set()
    procs = [_Proc(ctx, fn, init) for _ in range(jobs)]
    next_out = 0
    clean = False

    def refill() -> None:
        nonlocal exhausted
        while not exhausted and len(held) < window and len(queued) < jobs * 2:
            batch: list[tuple[int, Any]] = []
            for index, item in source:
                held[index] = item
                batch.append((index, item))
                if len(batch) >= chunk or len(held) >= window:
                    break
            else:
                exhausted = True
            if batch:
                queued.append(batch)

    try:
        while True:
            refill()
            for p in procs:
                if not p.held and queued:
                    p.send(queued.popleft())
            while next_out in results:
                result = results.pop(next_out)
                held.pop(next_out, None)
                yield next_out, result
                next_out += 1
            refill()
            if exhausted and not held:
                break
            busy = [p for p in procs if p.held]
            if not busy:
                continue
            ready = wait([p.conn for p in busy] + [p.proc.sentinel for p in busy])
            for k, p in enumerate(procs):
                if not p.held:
                    continue
                if p.conn in ready:
                    _drain(p, results)
                if p.proc.sentinel in ready and p.held:
                    _drain(p, results)
                    if p.held:
                        procs[k] = _replace(ctx, fn, init, p, held, queued, results, retried)
        clean = True
    finally:
        _stop(procs, clean)


def _drain(p: _Proc, results: dict[int, Any]) -> None:
    """Take every result the worker has sent (it may have died right after)."""
    try:
        while p.held and p.conn.poll():
            index, result = p.conn.recv()
            p.held.remove(index)
            results[index] = result
    except (EOFError, OSError):
        pass


def _replace(
    ctx: Any,
    fn: Callable[[Any], Any],
    init: Callable[[], None] | None,
    dead: _Proc,
    held: dict[int, Any],
    queued: deque[list[tuple[int, Any]]],
    results: dict[int, Any],
    retried: set[int],
) -> _Proc:
    """A worker died: retry its current item once, requeue the rest, start another worker."""
    dead.proc.join(timeout=5)
    reason = death_reason(dead.proc.exitcode)
    culprit, rest = dead.held[0], list(dead.held)[1:]
    dead.held.clear()
    with contextlib.suppress(OSError):
        dead.conn.close()
    if rest:
        queued.appendleft([(i, held[i]) for i in rest])
    if culprit in retried:
        results[culprit] = Lost(reason)
    else:
        retried.add(culprit)
        queued.appendleft([(culprit, held[culprit])])  # alone, in a fresh worker
    return _Proc(ctx, fn, init)


def _stop(procs: list[_Proc], clean: bool) -> None:
    """End the workers: politely after a finished map, at once (SIGTERM, then SIGKILL) else."""
    for p in procs:
        if clean:
            with contextlib.suppress(OSError, ValueError):
                p.conn.send(None)
        elif p.proc.is_alive():
            with contextlib.suppress(OSError):
                os.kill(p.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + (10.0 if clean else STOP_GRACE)
    for p in procs:
        p.proc.join(timeout=max(0.0, deadline - time.monotonic()))
        if p.proc.is_alive():
            p.proc.kill()
            p.proc.join(timeout=1)
        with contextlib.suppress(OSError):
            p.conn.close()
