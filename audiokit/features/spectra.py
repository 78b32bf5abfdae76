"""The per-block context of the feature groups: one STFT and what derives from it.

:class:`Block` holds one stretch of mono audio and computes, each at most once and
only when a group asks, its STFT, magnitude, power, mel dB spectrogram and CQT. With
librosa's whole-file defaults (``FeatureParams.frame_local`` false) dB values are
floored ``TOP_DB`` below the file's loudest value: a block of a longer file is given
those maxima (:class:`audiokit.features.refs.FileRefs`, from a first pass); a block
that is the whole file finds them itself.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable

import numpy as np

from audiokit.dsp import feature, spectrum
from audiokit.features.kept import KeptFrames
from audiokit.features.refs import FileRefs
from audiokit.features.schema import AMIN, CONTRAST_BANDS, TOP_DB, FeatureParams

#: Lowest CQT frequency (C1) and resolution of the CQT-based groups (librosa's defaults).
CQT_FMIN = 32.70319566257483
CQT_BINS_PER_OCTAVE = 36
CQT_OCTAVES = 7


class Block:
    """One stretch of mono audio and what its groups share, each computed at most once.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
        Mono samples; its frames are centred at ``k * hop_length`` (k = 0, 1, ...).
    sr : int
    p : FeatureParams
    ext : (int, int)
        Frames that are exact (their window lies inside ``y`` or reaches a real edge
        of the file); features with temporal context use them.
    core : (int, int)
        Frames to return (inside ``ext``).
    width : int
        Delta window for the file (:func:`delta_width`); 0 gives NaN deltas.
    edges : (bool, bool)
        Whether ``ext`` starts at the file's first frame / ends at its last.
    refs : FileRefs or None
        The file's dB maxima and tuning (:mod:`audiokit.features.refs`) when ``p`` asks
        for librosa's whole-file defaults and the block is not the whole file; None
        otherwise (a whole-file block finds them itself).
    kept : KeptFrames or None
        The first pass's spectra of the whole file (:mod:`audiokit.features.kept`): the
        magnitude STFT and mel dB of the ``ext`` frames are read from it, not computed.
    frame0 : int
        Index in the file of ``y``'s first frame (where ``kept`` is read).
    """

    def __init__(
        self,
        y: np.ndarray,
        sr: int,
        p: FeatureParams,
        ext: tuple[int, int],
        core: tuple[int, int],
        width: int,
        edges: tuple[bool, bool],
        refs: FileRefs | None = None,
        kept: KeptFrames | None = None,
        frame0: int = 0,
    ) -> None:
        self.y, self.sr, self.p = y, sr, p
        self.ext, self.core, self.width, self.edges = ext, core, width, edges
        self.refs = refs
        self.kept, self.frame0 = kept, frame0
        #: The core frames inside ``ext`` (``a:b`` of the ``*_ext`` arrays).
        self.a, self.b = core[0] - ext[0], core[1] - ext[0]

    @functools.cached_property
    def S_ext(self) -> np.ndarray:
        """Magnitude STFT of the ``ext`` frames, shape (1 + n_fft // 2, ext frames)."""
        if self.kept is not None and "S" in self.kept:
            return self.kept_frames("S", *self.ext)
        D = spectrum.stft(y=self.y, n_fft=self.p.n_fft, hop_length=self.p.hop_length)
        return np.abs(D[:, self.ext[0] : self.ext[1]])

    @property
    def S(self) -> np.ndarray:
        """Magnitude STFT of the core frames."""
        return self.S_ext[:, self.a : self.b]

    @functools.cached_property
    def P_ext(self) -> np.ndarray:
        """Power STFT of the ``ext`` frames."""
        return self.S_ext**2

    @functools.cached_property
    def mel_db_floor(self) -> np.ndarray:
        """Mel spectrogram in dB (ref 1, floor ``AMIN``, no ``top_db``) of the ``ext`` frames."""
        if self.kept is not None and "mel_db_floor" in self.kept:
            return self.kept_frames("mel_db_floor", *self.ext)
        p = self.p
        mel = feature.melspectrogram(
            S=self.P_ext, sr=self.sr, n_fft=p.n_fft, n_mels=p.n_mels, fmin=p.fmin, fmax=p.fmax
        )
        return spectrum.power_to_db(S=mel, amin=AMIN, top_db=None)

    @functools.cached_property
    def mel_db(self) -> np.ndarray:
        """Mel dB of the ``ext`` frames as the features use it.

        ``p.frame_local``: :attr:`mel_db_floor`; otherwise also floored at ``TOP_DB``
        below the file's loudest mel value (``librosa.power_to_db(S)``, ``top_db=80``).
        """
        db = self.mel_db_floor
        if self.p.frame_local:
            return db
        top = self.file_value("mel_db_max", lambda: float(db.max()) if db.size else 0.0)
        return np.maximum(db, db.dtype.type(top) - db.dtype.type(TOP_DB))

    def kept_frames(self, name: str, first: int, last: int) -> np.ndarray:
        """Frames ``first .. last`` (indices into ``y``'s frames) of a kept array."""
        assert self.kept is not None
        return self.kept.read(name, self.frame0 + first, self.frame0 + last)

    @property
    def whole(self) -> bool:
        """Whether the block is the whole file (its core frames are all of the file's)."""
        return self.edges == (True, True) and self.core == self.ext

    def file_value(self, name: str, own: Callable[[], float]) -> float:
        """A whole-file reference (a field of :class:`FileRefs`): given, or ``own()``.

        Raises
        ------
        ValueError
            A block of a longer file was not given the file's references.
        """
        if self.refs is not None:
            value = getattr(self.refs, name)
            if value is not None:
                return float(value)
        if not self.whole:
            raise ValueError(f"a block of a longer file needs the file's {name}")
        return own()

    @functools.cached_property
    def cqt(self) -> np.ndarray:
        """CQT magnitude of all of ``y`` (A440, from C1; :func:`cqt_octaves` octaves)."""
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # short clips: filters longer than the signal
            return np.abs(
                librosa.cqt(
                    self.y,
                    sr=self.sr,
                    hop_length=self.p.hop_length,
                    fmin=CQT_FMIN,
                    n_bins=cqt_octaves(self.sr) * CQT_BINS_PER_OCTAVE,
                    bins_per_octave=CQT_BINS_PER_OCTAVE,
                    tuning=0.0,
                )
            )

    def core_of(self, x: np.ndarray) -> np.ndarray:
        """The core frames of a per-sample-frame array (last axis indexed like ``y``'s frames)."""
        return x[..., self.core[0] : self.core[1]]


# --------------------------------------------------------------------------- helpers


def delta_width(n_frames: int) -> int:
    """Delta window: 9, shrunk to the largest odd width <= n_frames; 0 below 3 frames."""
    if n_frames < 3:
        return 0
    w = min(9, n_frames)
    return w if w % 2 else w - 1


def n_frames_for(n_samples: int, p: FeatureParams) -> int:
    """Frames of a centred STFT of ``n_samples`` samples (as librosa counts them)."""
    return 1 + (n_samples + 2 * (p.n_fft // 2) - p.n_fft) // p.hop_length


def cqt_octaves(sr: int) -> int:
    """Octaves of the CQT from C1 that fit under the Nyquist frequency (at most 7)."""
    return max(1, min(CQT_OCTAVES, int(math.floor(math.log2(sr / 2 / CQT_FMIN / 1.06)))))


def contrast_bands(sr: int) -> int:
    """Spectral-contrast bands (librosa: octaves from 200 Hz) that fit under Nyquist."""
    n = CONTRAST_BANDS
    while n > 1 and 200.0 * 2 ** (n - 1) >= sr / 2:
        n -= 1
    return n


def onset_shift(p: FeatureParams) -> int:
    """Frames between a frame and the onset-strength value its flux lands on."""
    return 1 + p.n_fft // (2 * p.hop_length)
