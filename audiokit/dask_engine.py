"""Run a batch on a Dask cluster (``--scheduler``): the same tasks, outcomes and order.

:class:`DaskExecutor` is a :class:`audiokit.batch.Executor`: the batch engine hands
it ``call(task, input)`` and gets ``(index, result)`` pairs back in input order, as
from the local pool, so failures, notes, counts, progress and ``--fail-fast`` go
through the same code. What differs is where the tasks run:

- ``tcp://host:port`` (``tls://``, or a bare ``host:port``): a running
  ``dask scheduler``; ``local:N``: a :class:`distributed.LocalCluster` of ``N``
  worker processes with one thread each, started here and closed at the end.
- Inputs go in chunks (:func:`plan_chunks`): many short files per task, a long one
  alone, at least ~8 tasks per worker. Commands whose workers write files send one
  input per task, so that a task re-run after its worker died never meets an output
  it committed itself.
- A task whose worker dies is re-run by the scheduler (``retries`` covers errors
  that escape); results are kept by input index, so a re-run chunk adds nothing
  twice. A chunk the scheduler gives up on (:class:`distributed.KilledWorker`) is
  split into single inputs; an input that still kills its worker is
  :class:`audiokit.pool.Lost`, as locally.
- Before any work (:meth:`DaskExecutor.open`): every worker must run this audiokit
  version on this Python, see the inputs (the first and last) and be able to write
  into the output directories; one line (:class:`~audiokit.errors.ClusterError`)
  otherwise.
- Each worker process runs the command's warm-up once, before its first task
  (:func:`run_chunk`), under :func:`audiokit.warmup.compile_lock`; tasks run in the
  client's working directory when the worker has it (relative paths mean the same).

``distributed`` is imported only when a cluster is opened: this module is loaded by
the command line, which must start without dask.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import pickle
import re
import sys
import tempfile
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import audiokit
from audiokit import pool, warmup
from audiokit.errors import ClusterError, UsageError
from audiokit.inputs import Input

#: Seconds to reach a scheduler, and for a scheduler without workers to get one.
CONNECT_TIMEOUT = 10.0
#: Most inputs in one task, and most bytes of input (short clips go together, a long
#: file alone: ~1-2 s of work per task for the usual commands).
MOST_PER_TASK = 64
CHUNK_BYTES = 8 * 2**20
#: Re-runs of a task whose code raised outside the batch engine's own handling.
RETRIES = 2
#: Most workers of ``local:N``.
MAX_LOCAL_WORKERS = 512

MISSING = "--scheduler needs dask: pip install 'audiokit[dask]'"


@dataclass(frozen=True)
class Address:
    """Where to run: ``url`` of a scheduler, or ``local`` worker processes to start."""

    url: str | None = None
    local: int = 0

    def __str__(self) -> str:
        return self.url if self.url is not None else f"local:{self.local}"


_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)$")


def parse_address(text: str) -> Address:
    """``tcp://host:port``, ``tls://host:port``, ``host:port`` or ``local:N``.

    Raises
    ------
    ValueError
        Anything else, with a one-line reason.
    """
    text = text.strip()
    forms = "give tcp://HOST:PORT, tls://HOST:PORT, HOST:PORT or local:N"
    if text.startswith("local:"):
        count = text.removeprefix("local:")
        if not count.isdigit() or not 1 <= int(count) <= MAX_LOCAL_WORKERS:
            raise ValueError(f"{text!r}: local:N takes 1 to {MAX_LOCAL_WORKERS} workers")
        return Address(local=int(count))
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    host, colon, port = rest.rpartition(":")
    if (
        scheme not in ("tcp", "tls")
        or not colon
        or not _HOST.match(host)
        or not port.isdigit()
        or not 0 < int(port) < 65536
    ):
        raise ValueError(f"{text!r} is not a scheduler address: {forms}")
    return Address(url=f"{scheme}://{host}:{int(port)}")


def plan_chunks(sizes: Sequence[int], workers: int, most: int = MOST_PER_TASK) -> list[list[int]]:
    """Cut inputs, in order, into tasks.

    Parameters
    ----------
    sizes : sequence of int, shape (n_inputs,)
        Bytes of each input (a stand-in for its duration).
    workers : int
        Workers of the cluster: at least ~8 tasks each while there are enough inputs.
    most : int
        Most inputs per task.

    Returns
    -------
    list of list of int
        Input indices of each task, covering ``0 .. n_inputs - 1`` in order.
    """
    count = max(1, min(most, len(sizes) // (max(1, workers) * 8)))
    chunks: list[list[int]] = []
    current: list[int] = []
    held = 0
    for i, size in enumerate(sizes):
        if current and (len(current) >= count or held + size > CHUNK_BYTES):
            chunks.append(current)
            current, held = [], 0
        current.append(i)
        held += size
    if current:
        chunks.append(current)
    return chunks


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


# -- in the workers -------------------------------------------------------------------

#: Warm-ups done in this worker process (their pickles).
_WARMED: set[bytes] = set()


def _enter(cwd: str) -> None:
    """Work in the client's directory when this machine has it."""
    with contextlib.suppress(OSError):
        if os.getcwd() != cwd and os.path.isdir(cwd):
            os.chdir(cwd)


def run_chunk(
    fn: Callable[[Input], Any],
    warm_up: Callable[[], object] | None,
    cwd: str,
    chunk: Sequence[tuple[int, Input]],
) -> list[tuple[int, Any]]:
    """In a worker: ``[(index, fn(input)), ...]`` for a chunk, after the warm-up.

    ``fn`` is the batch engine's ``call(task, ...)``, which turns the task's errors
    into failures; anything else that escapes is a :class:`pool.Raised` result.
    """
    _enter(cwd)
    if warm_up is not None:
        try:
            key = pickle.dumps(warm_up)
        except Exception:
            key = repr(warm_up).encode()
        if key not in _WARMED:
            warmup.run(warm_up)
            _WARMED.add(key)
    out: list[tuple[int, Any]] = []
    for index, inp in chunk:
        try:
            result = fn(inp)
        except Exception as exc:
            result = pool.Raised(f"{type(exc).__name__}: {exc}", traceback.format_exc())
        out.append((index, result))
    return out


def versions() -> tuple[str, str]:
    """This process's audiokit version and Python ``major.minor``."""
    return audiokit.__version__, f"{sys.version_info.major}.{sys.version_info.minor}"


def check_storage(cwd: str, paths: Sequence[str], dirs: Sequence[str]) -> str | None:
    """In a worker: None if it sees ``paths`` and can write into ``dirs``, else why not."""
    _enter(cwd)
    for path in paths:
        if not os.path.exists(path):
            return f"cannot see {path}"
        if not os.access(path, os.R_OK):
            return f"cannot read {path}"
    for folder in dirs:
        try:
            fd, name = tempfile.mkstemp(prefix=".audiokit-check-", dir=folder)
            os.close(fd)
            os.unlink(name)
        except OSError as exc:
            return f"cannot write into {folder} ({(exc.strerror or str(exc)).lower()})"
    return None


# -- in the client --------------------------------------------------------------------


def existing_dir(path: str) -> str:
    """``path``, or its nearest ancestor that exists here, as an absolute path."""
    path = os.path.abspath(path)
    while not os.path.isdir(path) and os.path.dirname(path) != path:
        path = os.path.dirname(path)
    return path


class DaskExecutor:
    """The batch on a Dask cluster; a context manager (:meth:`open`, :meth:`close`).

    Parameters
    ----------
    address
        The scheduler, or ``local:N``.
    probe
        Input paths every worker must see (the first and last input, say).
    writes
        Directories the workers write outputs into (they must be able to).
    one_per_task
        Send one input per task (commands whose workers write files).
    timeout
        Seconds to reach the scheduler, and to wait for a first worker (default
        :data:`CONNECT_TIMEOUT`).
    """

    def __init__(
        self,
        address: Address,
        *,
        probe: Sequence[str] = (),
        writes: Sequence[str] = (),
        one_per_task: bool = False,
        timeout: float | None = None,
    ) -> None:
        self.address = address
        self.probe = list(probe)
        self.writes = [existing_dir(d) for d in writes]
        self.one_per_task = one_per_task
        self.timeout = CONNECT_TIMEOUT if timeout is None else timeout
        self.client: Any = None
        self.cluster: Any = None

    def __enter__(self) -> DaskExecutor:
        try:
            self.open()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        """``scheduler tcp://...`` (or ``local:N``), how messages name the cluster."""
        return f"scheduler {self.address}"

    def open(self) -> None:
        """Connect (or start ``local:N``), then check the workers before any work.

        Raises
        ------
        UsageError
            dask is not installed.
        ClusterError
            The scheduler cannot be reached or has no worker; a worker runs another
            audiokit or Python, or cannot see an input or write an output directory.
        """
        try:
            import distributed
        except ImportError:
            raise UsageError(MISSING) from None
        if self.address.url is None:
            with warnings.catch_warnings():
                # Its HTTP server (health checks) takes another port when 8787 is in use.
                warnings.filterwarnings("ignore", message="Port .* is already in use")
                self.cluster = distributed.LocalCluster(
                    n_workers=self.address.local,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            self.client = distributed.Client(self.cluster, set_as_default=False)
        else:
            try:
                self.client = distributed.Client(
                    self.address.url, timeout=self.timeout, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                reason = "" if not text or text.startswith("Timed out") else f" ({text})"
                raise ClusterError(
                    f"{self.where}: cannot connect within {self.timeout:.0f} s{reason}"
                ) from None
            try:
                self.client.wait_for_workers(1, timeout=self.timeout)
            except (OSError, TimeoutError):
                raise ClusterError(
                    f"{self.where}: no worker within {self.timeout:.0f} s "
                    f"(start some: dask worker {self.address.url})"
                ) from None
        self._check_versions()
        self._check_storage()

    def _on_workers(self, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """``fn(*args)`` on every worker; one that cannot run it (no audiokit there) is a
        :class:`ClusterError`."""
        answers = self.client.run(fn, *args, on_error="return")
        for worker, answer in sorted(answers.items()):
            if isinstance(answer, BaseException):
                text = str(answer).strip().splitlines()
                why = f"{type(answer).__name__}: {text[0]}" if text else type(answer).__name__
                raise ClusterError(f"{self.where}: worker {worker} cannot run audiokit ({why})")
        return dict(answers)

    def _check_versions(self) -> None:
        ours = versions()
        for worker, theirs in sorted(self._on_workers(versions).items()):
            theirs = tuple(theirs)
            if theirs[0] != ours[0]:
                raise ClusterError(
                    f"{self.where}: worker {worker} runs audiokit {theirs[0]}, this is {ours[0]}"
                )
            if theirs[1] != ours[1]:
                raise ClusterError(
                    f"{self.where}: worker {worker} runs Python {theirs[1]}, this is {ours[1]}"
                )

    def _check_storage(self) -> None:
        answers = self._on_workers(check_storage, os.getcwd(), self.probe, self.writes)
        for worker, problem in sorted(answers.items()):
            if problem is not None:
                raise ClusterError(
                    f"{self.where}: worker {worker} {problem}: inputs and outputs must be on "
                    "storage every worker shares, at the same paths"
                )

    def close(self) -> None:
        """Disconnect (and stop ``local:N``'s workers); never raises."""
        for part in (self.client, self.cluster):
            if part is not None:
                with contextlib.suppress(Exception):
                    part.close()
        self.client = self.cluster = None

    def imap(
        self,
        fn: Callable[[Input], Any],
        inputs: Sequence[Input],
        warm_up: Callable[[], object] | None,
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(inputs[index]))`` in input order, each index once.

        At most ~4 chunks (~32 single inputs) per worker are in flight or finished but
        not yet yielded (the client's memory stays bounded); closing the iterator cancels
        the rest.
        """
        import distributed

        client = self.client
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        most = 1 if self.one_per_task else MOST_PER_TASK
        chunks = plan_chunks([_size(inp.path) for inp in inputs], workers, most)
        # Tasks in flight or not yet yielded: deep enough to hide the round trips to the
        # scheduler (single inputs are small results), bounded for the client's memory.
        window = max(64, 32 * workers) if self.one_per_task else max(8, 4 * workers)
        cwd = os.getcwd()
        token = uuid.uuid4().hex[:12]
        keys = itertools.count()
        pending: dict[Any, list[int]] = {}
        results: dict[int, Any] = {}
        done = distributed.as_completed(loop=client.loop)
        ends = [chunk[-1] for chunk in chunks]  # a chunk is yielded once next_out passes it
        sent = 0  # chunks submitted
        first = 0  # the first chunk not yet wholly yielded
        next_out = 0

        def submit(indices: list[int]) -> None:
            future = client.submit(
                run_chunk,
                fn,
                warm_up,
                cwd,
                [(i, inputs[i]) for i in indices],
                key=f"audiokit-{token}-{next(keys)}",
                pure=False,
                retries=RETRIES,
            )
            pending[future] = indices
            done.add(future)

        try:
            while True:
                while first < sent and ends[first] < next_out:
                    first += 1
                while sent < len(chunks) and sent - first < window:
                    submit(chunks[sent])
                    sent += 1
                if not pending:
                    break
                future = next(done)
                indices = pending.pop(future)
                for i, result in self._collect(future, indices, distributed, submit):
                    if i >= next_out:
                        results.setdefault(i, result)  # a re-run chunk adds nothing twice
                del future
                while next_out in results:
                    yield next_out, results.pop(next_out)
                    next_out += 1
        finally:
            if pending:
                with contextlib.suppress(Exception):
                    client.cancel(list(pending), force=True)

    @staticmethod
    def _collect(
        future: Any, indices: list[int], distributed: Any, submit: Callable[[list[int]], None]
    ) -> list[tuple[int, Any]]:
        """A finished task's ``(index, result)`` pairs; a failed one's, as the pool's."""
        try:
            return list(future.result())
        except distributed.KilledWorker as exc:
            if len(indices) > 1:  # find the input that kills workers: each alone
                for i in indices:
                    submit([i])
                return []
            return [(indices[0], pool.Lost(f"worker died running it ({exc})"))]
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}".strip()
            return [(i, pool.Raised(reason, traceback.format_exc())) for i in indices]
