"""Block processing: any duration in bounded memory, frames identical to the whole file.

A file is cut into runs of ``block_frames`` frames. Each run is computed from
a stretch of samples that starts on a multiple of ``hop_length`` and reaches
``n_fft / 2`` samples plus :func:`groups.context_frames` frames beyond it on
both sides, so every returned frame sees exactly the samples (and, for
deltas, onset flux and HPSS, the neighbouring frames) that the whole-file
computation gives it. CQT and pYIN groups get 128 frames (~3 s) of context:
their long filters and Viterbi decoding make block results equal the
whole-file ones within a tolerance only.

With librosa's whole-file defaults (``FeatureParams.frame_local`` false) values
depend on the file's dB maxima and chroma tuning: a file of more than one block is
read twice, a first pass measuring them (:func:`file_refs`: the STFT, mel and
contrast maxima and pitched bins of every block, no context frames) and a second
computing the features with them. A file of one block is computed in one pass.
When the first pass's spectra fit :data:`kept.KEEP_BUDGET` they are kept for the
second (:mod:`audiokit.features.kept`), so each frame's STFT is computed once.

Samples come from a :class:`Source`: an array in memory, or a file decoded
block by block (``audio_io.iter_blocks``), mixed to mono and resampled with a
streaming soxr resampler.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any, Protocol

import numpy as np
import soxr
from threadpoolctl import threadpool_limits

from audiokit import audio_io, heap, pool
from audiokit.dsp.fft import SCIPY_FFT_MIN_SIZE
from audiokit.errors import InputError
from audiokit.features import kept as kept_frames
from audiokit.features.groups import (
    BlockFeatures,
    block_refs,
    compute_block,
    context_frames,
    delta_width,
    n_frames_for,
    needs_refs,
)
from audiokit.features.kept import KeptFrames, keep_frames
from audiokit.features.refs import FileRefs, RefAccumulator, RefStats
from audiokit.features.schema import FeatureParams, frame_columns
from audiokit.features.spectra import contrast_bands
from audiokit.features.stats import MEMORY_BUDGET

#: Frames per block (~95 s at 22050 Hz with hop 512).
BLOCK_FRAMES = 4096
#: Frames per block of a first pass whose spectra are kept (:mod:`features.kept`). Its
#: blocks carry no context, so they can be short: more of them share out evenly over
#: the workers, and their STFTs stay under :data:`audiokit.dsp.fft.SCIPY_FFT_MIN_SIZE`.
KEPT_BLOCK_FRAMES = 1024


class Source(Protocol):
    """Mono samples read forward: ``take(start, stop)`` with non-decreasing ``start``.

    ``reopen()`` gives a source of the same samples read again from the start.
    """

    n: int

    def take(self, start: int, stop: int) -> np.ndarray: ...

    def reopen(self) -> Source: ...


class ArraySource:
    """Samples already in memory, shape (n,)."""

    def __init__(self, y: np.ndarray) -> None:
        self.y = y
        self.n = len(y)

    def take(self, start: int, stop: int) -> np.ndarray:
        return self.y[start:stop]

    def reopen(self) -> ArraySource:
        return self


class StreamSource:
    """A file decoded block by block, mixed to mono (or one ``channel``), resampled on the fly.

    Only the samples from the last ``take`` start onwards are kept. The length
    is computed from the header (``ceil(frames * sr / native)``, as
    :func:`audio_io.resample`); a decoder that delivers fewer samples is
    padded with zeros.
    """

    def __init__(
        self,
        path: str,
        sr: int | None,
        read_block: int = 1 << 17,
        first: int = 0,
        last: int | None = None,
        channel: int | None = None,
    ) -> None:
        self._args = (path, sr, read_block, first, last, channel)
        self.channel = channel
        self.info = audio_io.probe(path)
        self.native = self.info.samplerate
        self.sr = sr or self.native
        last = self.info.frames if last is None else last
        self.n = int(math.ceil((last - first) * self.sr / self.native))
        self._blocks = audio_io.iter_blocks(path, read_block, self.info, first, last)
        self._rs: Any = None
        if self.sr != self.native:
            self._rs = soxr.ResampleStream(self.native, self.sr, 1, dtype="float32", quality="HQ")
        self._buf = np.zeros(0, np.float32)
        self._pending: list[np.ndarray] = []
        self._have = 0  # samples in _buf and _pending
        self._start = 0
        self._done = False

    def reopen(self) -> StreamSource:
        return StreamSource(*self._args)

    def _pull(self) -> None:
        try:
            block = next(self._blocks)
            if self.channel is None:
                mono = block.mean(axis=1, dtype=np.float32)
            else:
                mono = np.ascontiguousarray(block[:, self.channel], dtype=np.float32)
            last = False
        except StopIteration:
            mono, last, self._done = np.zeros(0, np.float32), True, True
        if self._rs is not None:
            mono = self._rs.resample_chunk(mono, last=last)
        self._pending.append(mono.astype(np.float32, copy=False))
        self._have += len(mono)

    def take(self, start: int, stop: int) -> np.ndarray:
        while self._start + self._have < stop and not self._done:
            self._pull()
        if self._pending:
            self._buf = np.concatenate([self._buf, *self._pending])
            self._pending = []
        if start > self._start:
            self._buf = self._buf[start - self._start :]
            self._start = start
        self._have = len(self._buf)
        have = self._buf[: stop - self._start]
        if self._start + len(have) < stop:  # the decoder gave less than the header said
            have = np.concatenate([have, np.zeros(stop - self._start - len(have), np.float32)])
        return have


def n_blocks(source: Source, p: FeatureParams, block_frames: int = BLOCK_FRAMES) -> int:
    """Blocks :func:`iter_blocks` cuts ``source`` into."""
    return -(-n_frames_for(source.n, p) // block_frames)


def _plan(
    source: Source, sr: int, p: FeatureParams, block_frames: int, ctx: int | None = None
) -> Iterator[tuple[int, np.ndarray, tuple[int, int], tuple[int, int], int, tuple[bool, bool]]]:
    """Blocks to compute: (first frame, samples, ext frames, core frames, delta width, edges).

    ``ctx``: context frames on each side (None: :func:`context_frames`).
    """
    n_frames = n_frames_for(source.n, p)
    width = delta_width(n_frames)
    ctx = context_frames(p, sr) if ctx is None else ctx
    hop = p.hop_length
    pad_frames = -(-(p.n_fft // 2) // hop)
    for f0 in range(0, n_frames, block_frames):
        f1 = min(n_frames, f0 + block_frames)
        g0, g1 = max(0, f0 - ctx), min(n_frames, f1 + ctx)
        s = max(0, g0 - pad_frames) * hop
        e = min(source.n, (g1 - 1) * hop + p.n_fft)
        k = s // hop
        edges = (g0 == 0, g1 == n_frames)
        yield f0, source.take(s, e), (g0 - k, g1 - k), (f0 - k, f1 - k), width, edges


def uses_scipy_fft(p: FeatureParams, n_samples: int, sr: int) -> bool:
    """Whether features of ``n_samples`` samples make STFTs big enough for scipy.fft.

    A file of one block has one STFT of all its frames; the blocks of a longer one
    are :data:`BLOCK_FRAMES` frames with context, unless its first pass's spectra are
    kept: then only the first pass's short blocks take an STFT.
    """
    n_frames = n_frames_for(n_samples, p)
    if n_frames <= BLOCK_FRAMES:
        return n_frames * p.n_fft >= SCIPY_FFT_MIN_SIZE
    if _kept_bytes(p, n_frames, sr) <= kept_frames.KEEP_BUDGET:
        return (KEPT_BLOCK_FRAMES + 8) * p.n_fft >= SCIPY_FFT_MIN_SIZE
    return True


def _kept_bytes(p: FeatureParams, n_frames: int, sr: int) -> float:
    """Bytes the first pass would keep for a file of ``n_frames`` frames (inf: no first pass)."""
    if n_frames <= BLOCK_FRAMES or not needs_refs(p):
        return float("inf")
    return kept_frames.kept_bytes(kept_frames.kept_shapes(p, contrast_bands(sr) + 1), n_frames)


@functools.lru_cache(maxsize=1)
def single_thread_blas() -> None:
    """Limit BLAS to one thread in this process (parallelism comes from processes).

    Also keeps freed memory for the next block (:func:`audiokit.heap.keep_freed_memory`).

    OpenBLAS threads on small matrix products cost more than they gain, and
    much more on a busy machine (a 128-band mel product went from 0.5 to 10 ms).
    """
    try:
        threadpool_limits(1, user_api="blas")
    except Exception:  # threadpoolctl is optional
        pass
    heap.keep_freed_memory()


def iter_blocks(
    source: Source, sr: int, p: FeatureParams, block_frames: int = BLOCK_FRAMES, jobs: int = 1
) -> Iterator[tuple[int, BlockFeatures]]:
    """Compute the frame-level features of ``source`` block by block, in order.

    Parameters
    ----------
    source
        The samples (:class:`ArraySource` or :class:`StreamSource`).
    sr
        Their sample rate.
    p
        Parameters.
    block_frames
        Frames returned per block (memory grows with it).
    jobs
        Worker processes computing blocks in parallel (1: in this process). The
        samples are read here and sent to the workers; at most ``2 * jobs``
        blocks are in flight.

    Yields
    ------
    first_frame : int
        Index of the block's first frame in the file.
    BlockFeatures
        Features of frames ``first_frame .. first_frame + n``.
    """
    several = n_blocks(source, p, block_frames) > 1
    if not (several and needs_refs(p)):
        yield from _second_pass(source, sr, p, block_frames, jobs, None, None)
        return
    kept = keep_frames(p, n_frames_for(source.n, p), contrast_bands(sr) + 1)
    try:
        # the first pass, over a second reading of the samples
        first = min(block_frames, KEPT_BLOCK_FRAMES) if kept is not None else block_frames
        refs = file_refs(source.reopen(), sr, p, first, jobs, kept)
        yield from _second_pass(source, sr, p, block_frames, jobs, refs, kept)
    finally:
        if kept is not None:
            kept.close()


def _second_pass(
    source: Source,
    sr: int,
    p: FeatureParams,
    block_frames: int,
    jobs: int,
    refs: FileRefs | None,
    kept: KeptFrames | None,
) -> Iterator[tuple[int, BlockFeatures]]:
    """The features of every block, in order (see :func:`iter_blocks`)."""
    if jobs <= 1 or n_blocks(source, p, block_frames) <= 1:
        for f0, y, ext, core, width, edges in _plan(source, sr, p, block_frames):
            frame0 = f0 - core[0]
            yield f0, compute_block(y, sr, p, ext, core, width, edges, refs, kept, frame0)
        return
    # The blocks are the same whatever the number of workers (their statistics are merged
    # block by block, so another split would change the last bits of the values).
    # librosa's groups must have been warmed up before (see features.warm_up).
    blocks = _plan(source, sr, p, block_frames)
    starts: dict[int, int] = {}

    def numbered() -> Iterator[tuple[Any, ...]]:
        for k, (f0, *rest) in enumerate(blocks):
            starts[k] = f0
            yield (f0, *rest)

    work = functools.partial(_compute_planned, sr=sr, p=p, refs=refs, kept=kept)
    for k, result in pool.imap(work, numbered(), jobs, window=2 * jobs, init=single_thread_blas):
        if isinstance(result, (pool.Lost, pool.Raised)):
            raise InputError(f"block {k}: {result.reason}")
        yield starts.pop(k), result


def _compute_planned(
    planned: tuple[Any, ...],
    sr: int,
    p: FeatureParams,
    refs: FileRefs | None,
    kept: KeptFrames | None,
) -> BlockFeatures:
    f0, y, ext, core, width, edges = planned
    return compute_block(y, sr, p, ext, core, width, edges, refs, kept, f0 - core[0])


def file_refs(
    source: Source,
    sr: int,
    p: FeatureParams,
    block_frames: int = BLOCK_FRAMES,
    jobs: int = 1,
    kept: KeptFrames | None = None,
) -> FileRefs | None:
    """The first pass: the whole-file references of ``p``'s groups (None: none needed).

    Blocks as :func:`iter_blocks` cuts them, without context frames (each frame is
    measured once); ``jobs`` workers as there. ``kept``: where every frame's spectra
    are stored for the second pass.

    Returns
    -------
    FileRefs or None
        None when ``p`` is frame-local or no selected group needs references.
    """
    if not needs_refs(p):
        return None
    acc = RefAccumulator(sr)
    planned = (
        (y, ext, core, f0 - core[0])
        for f0, y, ext, core, _, _ in _plan(source, sr, p, block_frames, 0)
    )
    if jobs <= 1:
        for y, ext, core, frame0 in planned:
            acc.add(block_refs(y, sr, p, ext, core, kept, frame0))
        return acc.result()
    work = functools.partial(_refs_planned, sr=sr, p=p, kept=kept)
    for k, result in pool.imap(work, planned, jobs, window=2 * jobs, init=single_thread_blas):
        if isinstance(result, (pool.Lost, pool.Raised)):
            raise InputError(f"block {k} (first pass): {result.reason}")
        acc.add(result)
    return acc.result()


def _refs_planned(
    planned: tuple[Any, ...], sr: int, p: FeatureParams, kept: KeptFrames | None
) -> RefStats:
    y, ext, core, frame0 = planned
    return block_refs(y, sr, p, ext, core, kept, frame0)


#: Bytes a worker holds whatever it computes (interpreter, numpy, buffers).
_BASE_BYTES = 200 * 2**20


def estimate_memory(p: FeatureParams, frames_mode: bool, longest_seconds: float) -> float:
    """Peak bytes of one worker computing features with ``p``, about.

    One block of STFT frames (complex spectrum, power, magnitude), the filterbanks,
    the statistics' spill budget, the first pass's kept spectra of the longest input
    (:mod:`audiokit.features.kept`, when they fit), and with ``--frames`` every frame
    of the longest input (they are kept until its rows are written).
    """
    bins = p.n_fft // 2 + 1
    block = BLOCK_FRAMES * bins * (8 + 4 + 4)
    banks = (p.n_mels + 12) * bins * 4
    total = float(_BASE_BYTES + block + banks + MEMORY_BUDGET)
    sr = p.sr or 48_000  # native rates: assume a high one
    frames = longest_seconds * sr / p.hop_length
    kept = _kept_bytes(p, int(frames), sr)
    if kept <= kept_frames.KEEP_BUDGET:
        total += kept
    if frames_mode:
        total += frames * len(frame_columns(p)) * 4 * 2
    return total
