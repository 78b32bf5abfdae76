"""The batch engine: run a task over inputs in parallel and report each outcome.

Every subcommand is ``inputs.discover() -> batch.run(task) -> render``. The engine knows
nothing about audio: a *task* is a picklable callable ``task(inp: Input) -> T``
(a module-level function, or :func:`functools.partial` of one) that raises
:class:`~audiokit.errors.AudiokitError` for bad input. :func:`run` turns
each call into a :class:`Success` or a :class:`Failure`, in input order,
so one bad file never stops the others.

Per-worker state (a loaded model, say) belongs in a module-level cache of the
task's module (``functools.lru_cache``): each worker process loads it once.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Protocol, TypeVar

from audiokit import pool, quiet, warmup
from audiokit.errors import AudiokitError
from audiokit.inputs import Input

T = TypeVar("T")


@dataclass(frozen=True)
class Success(Generic[T]):
    """A task that returned ``value`` for ``input``."""

    input: Input
    value: T
    notes: tuple[str, ...] = ()
    """Warnings about the input (what a decoder printed, NumPy's warnings), one line each."""
    ok: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Failure:
    """A task that failed for ``input``: ``reason`` is one line, ``detail`` a traceback."""

    input: Input
    reason: str
    detail: str | None = None
    notes: tuple[str, ...] = ()
    ok: bool = field(default=False, init=False)

    @property
    def message(self) -> str:
        """``<path>: <reason>``, the line printed on stderr."""
        return f"{self.input.display}: {self.reason}"


Outcome = Success[T] | Failure


def describe(exc: BaseException, inp: Input | None = None) -> str:
    """One line saying why ``inp`` failed.

    An :class:`AudiokitError` about another path than the input (an output that
    exists, say) names that path too: the line already starts with the input.
    """
    if isinstance(exc, AudiokitError):
        if exc.path and (inp is None or exc.path not in (inp.path, inp.display)):
            return f"{exc.path}: {exc.message}"
        return exc.message
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(task: Callable[[Input], T], inp: Input) -> Outcome[T]:
    """Run ``task(inp)`` and wrap its value or its error (never raises but for interrupts).

    What libraries print or warn meanwhile is captured (:mod:`audiokit.quiet`) and
    comes back as the outcome's ``notes``.
    """
    out: Outcome[T]
    with quiet.captured() as noise:
        try:
            out = Success(inp, task(inp))
        except Exception as exc:
            out = Failure(inp, describe(exc, inp), traceback.format_exc())
    notes = tuple(noise.notes())
    if notes and isinstance(out, Failure):  # one line per problem: the rest goes with -v
        return replace(out, detail=f"{out.detail or ''}{noise.text}{''.join(noise.warnings)}")
    return replace(out, notes=notes) if notes else out


def _limit_threads(threads: int) -> None:
    """In a worker: BLAS and OpenMP threads share the cores with the other workers."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except Exception:  # threadpoolctl is optional
        pass


#: Number of usable cores.
default_jobs = pool.default_jobs


class Progress:
    """A tqdm bar on stderr, or nothing; ``write`` prints a line without breaking the bar."""

    def __init__(self, enabled: bool, total: float, unit: str, desc: str | None) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(
                total=total,
                unit=unit,
                desc=desc,
                file=sys.stderr,
                dynamic_ncols=True,
                unit_scale=unit != "file",
                leave=False,
            )

    def update(self, n: float) -> None:
        if self.bar is not None:
            self.bar.update(int(n) if self.bar.unit == "file" else n)

    def write(self, line: str, stdout: bool = False) -> None:
        """Print a line (on stderr, or stdout) without breaking the bar."""
        stream = sys.stdout if stdout else sys.stderr
        if self.bar is not None:
            self.bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class Executor(Protocol):
    """Another place to run a batch's tasks than the local pool (a Dask cluster).

    ``imap(fn, inputs, warm_up)`` runs ``fn(inputs[i])`` for every input and
    yields ``(i, result)`` in input order, each index once; a result is what ``fn``
    returned, or a :class:`pool.Lost` / :class:`pool.Raised`, as :func:`pool.imap`
    gives. ``warm_up`` runs once in each of its workers before their first input.
    Closing the iterator early cancels what is outstanding.
    """

    def imap(
        self,
        fn: Callable[[Input], Any],
        inputs: Sequence[Input],
        warm_up: Callable[[], object] | None,
    ) -> Iterator[tuple[int, Any]]: ...


def run(
    task: Callable[[Input], T],
    inputs: Sequence[Input],
    jobs: int | None = None,
    fail_fast: bool = False,
    progress: Progress | None = None,
    weights: Sequence[float] | None = None,
    warm_up: Callable[[], object] | None = None,
    *,
    executor: Executor | None = None,
) -> Iterator[Outcome[T]]:
    """Run ``task`` over ``inputs`` and yield one outcome per input, in input order.

    Parameters
    ----------
    task
        Picklable callable taking an :class:`Input`.
    inputs
        What to process.
    jobs
        Worker processes (default: all cores). With one job, or one input,
        the task runs in this process.
    fail_fast
        Stop after the first failure (it is still yielded; the rest are not run).
    progress
        Advanced as outcomes arrive.
    weights
        Progress units per input (e.g. audio seconds); default one per input.
    warm_up
        Run once in this process before any task, under the compile lock: forked
        workers inherit what it compiles, and concurrent audiokit processes do not
        fill numba's cache at the same time (see :mod:`audiokit.warmup`).
    executor
        Run the tasks there instead (``--scheduler``: a Dask cluster), ``jobs``
        ignored; ``warm_up`` then runs in each of its workers, not here. The
        outcomes are the same, in the same order.

    Yields
    ------
    Success or Failure
    """
    w = list(weights) if weights is not None else [1.0] * len(inputs)
    if executor is not None:
        if inputs:
            fn = functools.partial(call, task)
            results = executor.imap(fn, inputs, warm_up)
            yield from _outcomes(results, inputs, fail_fast, progress, w)
        return
    jobs = max(1, min(jobs or default_jobs(), len(inputs)))
    warmup.run(warm_up)
    if jobs == 1:
        for i, inp in enumerate(inputs):
            out = call(task, inp)
            if progress:
                progress.update(w[i])
            yield out
            if fail_fast and not out.ok:
                return
        return
    yield from _run_pool(task, inputs, jobs, fail_fast, progress, w)


def _chunks(n_inputs: int, jobs: int) -> int:
    # Small files cost less than a round trip to a worker: send them in chunks, but keep
    # at least ~8 chunks per worker so that the load stays balanced.
    return max(1, min(16, n_inputs // (jobs * 8)))


def _run_pool(
    task: Callable[[Input], T],
    inputs: Sequence[Input],
    jobs: int,
    fail_fast: bool,
    progress: Progress | None,
    weights: list[float],
) -> Iterator[Outcome[T]]:
    threads = max(1, default_jobs() // jobs)
    results = pool.imap(
        functools.partial(call, task),
        inputs,
        jobs,
        chunk=_chunks(len(inputs), jobs),
        init=functools.partial(_limit_threads, threads),
    )
    yield from _outcomes(results, inputs, fail_fast, progress, weights)


def _outcomes(
    results: Iterator[tuple[int, Any]],
    inputs: Sequence[Input],
    fail_fast: bool,
    progress: Progress | None,
    weights: list[float],
) -> Iterator[Outcome[T]]:
    """Outcomes from ``(index, result)`` pairs in input order; stops (and closes
    ``results``) after the first failure with ``fail_fast``."""
    try:
        for i, result in results:
            out: Outcome[T]
            if isinstance(result, pool.Lost):
                out = Failure(inputs[i], result.reason)
            elif isinstance(result, pool.Raised):
                out = Failure(inputs[i], result.reason, result.detail)
            else:
                out = result
            if progress:
                progress.update(weights[i])
            yield out
            if fail_fast and not out.ok:
                return
    finally:
        close = getattr(results, "close", None)
        if close is not None:  # the pool's workers, or the cluster's futures, go now
            close()
