"""Helpers of the streaming path's two passes: the spill file and the background worker.

:class:`Spill` keeps the first pass's output (the steps before ``normalize``:
resampling, filters...) in an anonymous temporary file, so that the second pass
reads those samples back instead of decoding and resampling the input again
(1-hour file, 22.05 -> 16 kHz: the second pass went from decode + resample to a
read of float32 from the page cache). The file has no name (``O_TMPFILE`` where
the system has it, else unlinked at once): a killed run leaves nothing behind.
The samples read back are the ones written, bit for bit, so the output is the
one that recomputing them gives.

:class:`Background` runs a function over items in one worker thread, in order,
with a bounded queue: the streaming path measures the input's loudness there
while the main thread decodes and resamples (numpy, soxr and scipy's filter
kernel release the GIL). It is used for a worker that processes one long file
on its own (see :attr:`audiokit.preprocess.job.Job.threads`); a batch of files
already keeps every core busy with processes.
"""

from __future__ import annotations

import contextlib
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

#: Blocks waiting for the background worker at most (bounds its memory).
QUEUE_DEPTH = 4

_STOP = object()


class Spill:
    """``(channels, n)`` float32 blocks written once, then read back in order.

    Parameters
    ----------
    channels
        Channels of every block.
    folder
        Where the anonymous file lives (the output's directory: the output's disk,
        not a RAM-backed ``/tmp``); None: the system's temporary directory.
    keep
        False: keep nothing (:meth:`write` does nothing, :attr:`usable` is False).

    Notes
    -----
    A failed write (a full disk) makes the spill unusable instead of raising: the
    caller then computes the samples again.
    """

    def __init__(self, channels: int, folder: Path | None = None, keep: bool = True) -> None:
        self.channels = channels
        self.lengths: list[int] = []
        self._file: IO[bytes] | None = None
        if keep:
            try:
                self._file = tempfile.TemporaryFile(dir=folder)
            except OSError:
                self._file = None

    @property
    def usable(self) -> bool:
        """Every block written is there to read back."""
        return self._file is not None

    def write(self, block: np.ndarray) -> None:
        """Append a ``(channels, n)`` block (frames interleaved, float32)."""
        if self._file is None:
            return
        data = np.ascontiguousarray(block.T, dtype=np.float32)
        try:
            self._file.write(data.data)
        except OSError:
            self.close()
            return
        self.lengths.append(block.shape[-1])

    def blocks(self) -> Iterator[np.ndarray]:
        """The blocks written, as they were written (the same lengths: dither is drawn
        block by block, so the output equals the one recomputing them gives)."""
        assert self._file is not None
        self._file.flush()
        self._file.seek(0)
        for n in self.lengths:
            buf = self._file.read(n * self.channels * 4)
            if len(buf) != n * self.channels * 4:
                raise OSError(f"spill file cut short ({len(buf)} bytes)")
            yield np.frombuffer(buf, np.float32).reshape(n, self.channels).T.copy()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Background:
    """``fn(item)`` for each :meth:`put` item, in order, in one worker thread (or inline).

    Parameters
    ----------
    fn
        Called once per item.
    threaded
        False: :meth:`put` calls ``fn`` at once, in the caller's thread.

    Use as a context manager: leaving the block waits for the queued items and
    raises what ``fn`` raised; leaving it with an exception drops what is still
    queued. The queue holds :data:`QUEUE_DEPTH` items at most.
    """

    def __init__(self, fn: Callable[[Any], object], threaded: bool = True) -> None:
        self.fn = fn
        self.error: BaseException | None = None
        self._cancel = False
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        if threaded:
            self._queue = queue.Queue(QUEUE_DEPTH)
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self.error is None and not self._cancel:
                try:
                    self.fn(item)
                except BaseException as exc:  # raised in the caller's thread
                    self.error = exc

    def put(self, item: Any) -> None:
        if self._queue is None:
            self.fn(item)
            return
        if self.error is not None:
            raise self.error
        self._queue.put(item)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._queue is None or self._thread is None:
            return
        self._cancel = exc_type is not None
        self._queue.put(_STOP)
        self._thread.join()
        if self.error is not None and exc_type is None:
            raise self.error
