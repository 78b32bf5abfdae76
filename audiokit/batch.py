"""The batch engine: find inputs, run a task over them in parallel, report each outcome.

Every subcommand is ``discover() -> run(task) -> render``. The engine knows
nothing about audio: a *task* is a picklable callable ``task(inp: Input) -> T``
(a module-level function, or :func:`functools.partial` of one) that raises
:class:`~audiokit.errors.AudiokitError` for bad input. :func:`run` turns
each call into a :class:`Success` or a :class:`Failure`, in input order,
so one bad file never stops the others.

Per-worker state (a loaded model, say) belongs in a module-level cache of the
task's module (``functools.lru_cache``): each worker process loads it once.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import multiprocessing
import os
import signal
import sys
import tempfile
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import IO, Any, Generic, TypeVar

from audiokit.audio_io import AUDIO_EXTENSIONS
from audiokit.errors import AudiokitError, InputError, UsageError

T = TypeVar("T")

STDIN = "-"


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
    def stem(self) -> str:
        """File name without its extension (``stdin`` for standard input)."""
        return PurePath(self.rel).stem


@dataclass(frozen=True)
class Success(Generic[T]):
    """A task that returned ``value`` for ``input``."""

    input: Input
    value: T
    ok: bool = field(default=True, init=False)


@dataclass(frozen=True)
class Failure:
    """A task that failed for ``input``: ``reason`` is one line, ``detail`` a traceback."""

    input: Input
    reason: str
    detail: str | None = None
    ok: bool = field(default=False, init=False)

    @property
    def message(self) -> str:
        """``<path>: <reason>``, the line printed on stderr."""
        return f"{self.input.display}: {self.reason}"


Outcome = Success[T] | Failure


# --------------------------------------------------------------------------- discovery


def parse_extensions(spec: str | None) -> frozenset[str]:
    """Parse ``"wav,flac"`` into ``{".wav", ".flac"}``; None gives the default audio set."""
    if not spec:
        return AUDIO_EXTENSIONS
    exts = {("." + e.strip().lower().lstrip(".")) for e in spec.split(",") if e.strip()}
    if not exts:
        raise UsageError(f"no extensions in {spec!r}")
    return frozenset(exts)


def _walk(root: Path, exts: frozenset[str]) -> Iterator[Path]:
    """Files under ``root`` with a wanted extension, sorted, following symlinks once."""
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
                yield Path(dirpath) / name


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
    return ".audio"


def _spool_stdin(stream: IO[bytes]) -> str:
    """Copy standard input to a temporary file (removed at exit) and return its path."""
    head = stream.read(64)
    fd, tmp = tempfile.mkstemp(prefix="audiokit-stdin-", suffix=_sniff_suffix(head))
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
    extensions: frozenset[str] = AUDIO_EXTENSIONS,
    stdin: IO[bytes] | None = None,
    exclude: Sequence[str | os.PathLike[str]] = (),
) -> tuple[list[Input], list[Failure]]:
    """Expand command-line paths into an ordered, de-duplicated list of inputs.

    Parameters
    ----------
    paths
        Files (taken whatever their extension), directories (walked recursively,
        files filtered by ``extensions``), glob patterns (``**`` recurses) and
        ``-`` for audio on standard input.
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

    Returns
    -------
    inputs : list of Input
        In argument order; within a directory or glob, sorted by path.
        A file reached twice is listed once.
    problems : list of Failure
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
    problems: list[Failure] = []
    seen: set[str] = set()
    excluded = [os.path.realpath(e) for e in exclude]

    def is_excluded(path: Path, root: Path) -> bool:
        # Only outputs strictly inside the tree being walked: an output equal to the tree
        # (or above it) is left to check_collisions, which refuses to overwrite inputs.
        real, top = os.path.realpath(path), os.path.realpath(root) + os.sep
        return any(
            e.startswith(top) and (real == e or real.startswith(e + os.sep)) for e in excluded
        )

    def add(path: Path, rel: PurePath | str, display: str | None = None) -> None:
        key = os.path.realpath(path)
        if key in seen:
            return
        seen.add(key)
        inputs.append(Input(path=str(path), display=display or str(path), rel=str(rel)))

    for arg in args:
        if arg == STDIN:
            if any(i.display == STDIN for i in inputs):
                continue
            tmp = _spool_stdin(stdin)
            inputs.append(Input(path=tmp, display=STDIN, rel="stdin" + Path(tmp).suffix))
            continue
        p = Path(arg)
        if p.is_dir():
            found = False
            for f in _walk(p, extensions):
                if not is_excluded(f, p):
                    add(f, f.relative_to(p))
                    found = True
            if not found:
                problems.append(_problem(arg, "no audio files in this directory"))
        elif p.exists() or p.is_symlink() or not _has_magic(arg):
            add(p, p.name)  # named directly: kept whatever its extension; errors surface later
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
                problems.append(_problem(arg, "no files match this pattern"))
            for f in files:
                try:
                    rel: PurePath = f.relative_to(root)
                except ValueError:
                    rel = PurePath(f.name)
                add(f, rel)
    return inputs, problems


def _problem(arg: str, reason: str) -> Failure:
    return Failure(Input(path=arg, display=arg, rel=Path(arg).name), reason)


# --------------------------------------------------------------------------- running


def _describe(exc: BaseException) -> str:
    if isinstance(exc, AudiokitError):
        return exc.message
    if isinstance(exc, MemoryError):
        return "out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower() + (f": {exc.filename}" if exc.filename else "")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def call(task: Callable[[Input], T], inp: Input) -> Outcome[T]:
    """Run ``task(inp)`` and wrap its value or its error (never raises but for interrupts)."""
    try:
        return Success(inp, task(inp))
    except Exception as exc:
        return Failure(inp, _describe(exc), traceback.format_exc())


def _exit_worker(signum: int, frame: Any) -> None:
    # SystemExit unwinds the running task (its temporary files are removed) and then ends
    # the worker. Once told to stop, a worker has nothing left to say: what the pool's
    # machinery prints while it is torn down (EOFError on a closed queue) is not for users.
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
    raise SystemExit(128 + signum)


def _worker_init(threads: int) -> None:
    # The main process decides when to stop; workers stop when it tells them (SIGTERM),
    # or on Ctrl-C, which the terminal sends to the whole process group.
    signal.signal(signal.SIGTERM, _exit_worker)
    signal.signal(signal.SIGINT, _exit_worker)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except Exception:  # threadpoolctl is optional
        pass


def default_jobs() -> int:
    """Number of usable cores."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _mp_context() -> Any:
    # fork starts workers in milliseconds and shares the already imported modules.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()  # pragma: no cover


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
            self.bar.update(n)

    def write(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(
    task: Callable[[Input], T],
    inputs: Sequence[Input],
    jobs: int | None = None,
    fail_fast: bool = False,
    progress: Progress | None = None,
    weights: Sequence[float] | None = None,
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

    Yields
    ------
    Success or Failure
    """
    jobs = max(1, min(jobs or default_jobs(), len(inputs)))
    w = list(weights) if weights is not None else [1.0] * len(inputs)
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


def call_chunk(task: Callable[[Input], T], chunk: Sequence[Input]) -> list[Outcome[T]]:
    """:func:`call` over several inputs in one round trip to a worker."""
    return [call(task, inp) for inp in chunk]


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
    pool = ProcessPoolExecutor(
        max_workers=jobs, mp_context=_mp_context(), initializer=_worker_init, initargs=(threads,)
    )
    size = _chunks(len(inputs), jobs)
    starts = iter(range(0, len(inputs), size))
    pending: deque[tuple[int, Future[list[Outcome[T]]]]] = deque()

    def submit_next() -> None:
        for i in starts:
            pending.append((i, pool.submit(call_chunk, task, inputs[i : i + size])))
            return

    clean = False
    try:
        for _ in range(jobs * 4):
            submit_next()
        while pending:
            i, fut = pending.popleft()
            outs = fut.result()
            submit_next()
            for k, out in enumerate(outs):
                if progress:
                    progress.update(weights[i + k])
                yield out
                if fail_fast and not out.ok:
                    return
        clean = True
    finally:
        if clean:
            pool.shutdown(wait=True)
        else:
            _stop_pool(pool, pending)


def _stop_pool(pool: ProcessPoolExecutor, pending: deque[tuple[int, Future[Any]]]) -> None:
    """Cancel queued work and stop the workers so that they remove their temporary files."""
    for _, fut in pending:
        fut.cancel()
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGTERM)
            except OSError:
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()


def output_path(inp: Input, out_dir: str | os.PathLike[str], name: str) -> Path:
    """Where the output ``name`` of ``inp`` goes under ``out_dir``, mirroring the input tree.

    ``name`` may use ``{stem}`` (e.g. ``"{stem}.waveform.png"``).
    """
    rel = PurePath(inp.rel)
    parts = [p for p in rel.parent.parts if p not in ("..", ".", "/")]
    return Path(out_dir, *parts, name.format(stem=rel.stem))


def check_collisions(pairs: Iterable[tuple[Input, Path]]) -> None:
    """Refuse a plan where two inputs write the same output, or an output overwrites an input.

    Raises
    ------
    UsageError
    """
    by_out: dict[str, Input] = {}
    inputs_real = set()
    plan = list(pairs)
    for inp, _ in plan:
        inputs_real.add(os.path.realpath(inp.path))
    for inp, out in plan:
        key = os.path.realpath(out)
        if key in inputs_real:
            raise UsageError(f"output {out} would overwrite an input")
        if key in by_out:
            raise UsageError(
                f"{by_out[key].display} and {inp.display} would both be written to {out}"
            )
        by_out[key] = inp
