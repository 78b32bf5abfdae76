"""The first pass's spectra, kept for the second: one STFT per frame with librosa's defaults.

With librosa's whole-file defaults a file of several blocks takes two passes
(:mod:`audiokit.features.blocks`): the first measures the file's dB maxima and
tuning, the second computes the features with them. Both need the same magnitude
STFT, mel dB spectrogram and spectral-contrast band peaks and valleys of every
frame, and none of these depends on the references (only what is computed from
them does). When they fit :data:`KEEP_BUDGET`, the first pass writes them into
one shared anonymous memory map (:class:`KeptFrames`), created before the block
workers are forked, and the second pass reads its blocks' frames from it
instead of computing them again: each frame's STFT is computed once.

Each array keeps the memory layout the computation gives it, so that what is
computed from a view of it sums in the same order as from the array itself: the
STFT magnitude frame by frame (as ``np.fft`` returns it, Fortran order: each
frame's bins contiguous, so a sum over frequency is numpy's pairwise sum, as in
librosa), the mel and contrast rows band by band. A block writes and reads its
frame range with no transposition; the second pass gets views into the map, not
copies. A worker that dies in the first pass is
replaced by a fork of the parent, which still holds the map; its block is
written again, whole.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

import numpy as np

from audiokit.features.schema import FeatureParams

#: Most bytes of kept frames (about 22 minutes at 22050 Hz with librosa's defaults).
KEEP_BUDGET = 256 * 2**20

#: Groups that read each kept array (the others compute from samples or the CQT).
_USERS = {
    "S": frozenset({"spectral", "chroma", "hpss"}),
    "mel_db_floor": frozenset({"mfcc", "mel", "onset", "tempo"}),
    "contrast_peak_db": frozenset({"spectral"}),
    "contrast_valley_db": frozenset({"spectral"}),
}


@dataclass(frozen=True)
class Layout:
    """Rows, dtype and memory order of one kept array."""

    dims: int
    dtype: np.dtype
    #: Each frame's values contiguous (Fortran order of the (dims, frames) array).
    frame_major: bool = False


@dataclass(frozen=True)
class _Field:
    offset: int
    layout: Layout


class KeptFrames:
    """Per-frame arrays of a whole file in one shared memory map.

    Parameters
    ----------
    n_frames : int
        Frames of the file.
    shapes : dict of str to Layout
        Each kept array, by name (``S``, ``mel_db_floor``, ``contrast_peak_db``,
        ``contrast_valley_db``).
    """

    def __init__(self, n_frames: int, shapes: dict[str, Layout]) -> None:
        self.n_frames = n_frames
        self.fields: dict[str, _Field] = {}
        offset = 0
        for name, layout in shapes.items():
            offset = -(-offset // 64) * 64
            self.fields[name] = _Field(offset, layout)
            offset += layout.dims * n_frames * layout.dtype.itemsize
        self.nbytes = offset
        # MAP_SHARED and anonymous: what a forked worker writes, every later fork reads.
        self._map = mmap.mmap(-1, max(offset, 1))

    def close(self) -> None:
        """Unmap (views taken before must not be used after)."""
        self._map.close()

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def array(self, name: str) -> np.ndarray:
        """The whole kept array ``name``, shape (dims, n_frames), a view into the map."""
        f = self.fields[name]
        lay = f.layout
        flat = np.frombuffer(self._map, lay.dtype, lay.dims * self.n_frames, f.offset)
        if lay.frame_major:
            return flat.reshape(self.n_frames, lay.dims).T
        return flat.reshape(lay.dims, self.n_frames)

    def write(self, name: str, first: int, values: np.ndarray) -> None:
        """Store frames ``first .. first + values.shape[1]`` of ``name`` (shape (dims, t))."""
        self.array(name)[:, first : first + values.shape[1]] = values

    def read(self, name: str, first: int, last: int) -> np.ndarray:
        """Frames ``first .. last`` of ``name``, shape (dims, last - first), a view."""
        return self.array(name)[:, first:last]


def kept_shapes(p: FeatureParams, n_contrast: int) -> dict[str, Layout]:
    """What the second pass of ``p``'s groups would read, as computed (:class:`Layout`).

    ``n_contrast``: rows of the spectral-contrast peaks and valleys (bands + 1).
    """
    f32, f64 = np.dtype(np.float32), np.dtype(np.float64)
    rows = {
        "S": Layout(p.n_fft // 2 + 1, f32, frame_major=True),
        "mel_db_floor": Layout(p.n_mels, f32),
        "contrast_peak_db": Layout(n_contrast, f64),
        "contrast_valley_db": Layout(n_contrast, f64),
    }
    chosen = set(p.groups)
    return {name: rows[name] for name, users in _USERS.items() if users & chosen}


def keep_frames(
    p: FeatureParams, n_frames: int, n_contrast: int, budget: int | None = None
) -> KeptFrames | None:
    """A :class:`KeptFrames` for a file of ``n_frames`` frames, or None past ``budget``.

    ``budget``: bytes (None: :data:`KEEP_BUDGET`).
    """
    shapes = kept_shapes(p, n_contrast)
    limit = KEEP_BUDGET if budget is None else budget
    if not shapes or kept_bytes(shapes, n_frames) > limit:
        return None
    return KeptFrames(n_frames, shapes)


def kept_bytes(shapes: dict[str, Layout], n_frames: int) -> int:
    """Bytes of the arrays ``shapes`` over ``n_frames`` frames."""
    return sum(lay.dims * lay.dtype.itemsize for lay in shapes.values()) * n_frames
