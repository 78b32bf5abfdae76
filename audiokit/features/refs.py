"""The whole-file references of librosa's defaults: dB maxima and chroma tuning.

librosa called the tutorials' way floors every dB array ``top_db=80`` below its
maximum over the whole input (``power_to_db``: mel, MFCC, onset strength and tempo
through the mel dB spectrogram; spectral contrast through its band peaks and
valleys, each converted separately), and ``chroma_stft`` estimates one tuning from
all frames. A file processed in blocks gets these from a first pass: every block
gives its :class:`RefStats` (maxima over its own frames, its pitched bins), the
:class:`RefAccumulator` merges them into the file's :class:`FileRefs`, and the
second pass computes every block with them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audiokit.dsp.pitch import TuningEstimate


@dataclass(frozen=True)
class FileRefs:
    """The file's references; None for those no selected group needs.

    Attributes
    ----------
    mel_db_max : float or None
        Maximum of the mel dB spectrogram (ref 1, floor ``AMIN``) over all frames.
    contrast_peak_db_max, contrast_valley_db_max : float or None
        Maxima of the spectral-contrast band peaks and valleys in dB.
    tuning : float or None
        Chroma tuning in fractions of a bin (``librosa.estimate_tuning``).
    """

    mel_db_max: float | None = None
    contrast_peak_db_max: float | None = None
    contrast_valley_db_max: float | None = None
    tuning: float | None = None


@dataclass
class RefStats:
    """What one block's frames contribute to :class:`FileRefs` (None: not needed).

    Attributes
    ----------
    mel_db_max, contrast_peak_db_max, contrast_valley_db_max : float or None
        Maxima over the block's frames.
    pitched : (np.ndarray, np.ndarray) or None
        Magnitudes (float32) and residual histogram bins (uint8) of the block's
        pitched bins (:meth:`audiokit.dsp.pitch.TuningEstimate.pitched`), shape (n,) each.
    """

    mel_db_max: float | None = None
    contrast_peak_db_max: float | None = None
    contrast_valley_db_max: float | None = None
    pitched: tuple[np.ndarray, np.ndarray] | None = None


def _max(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    return a if b is None else max(a, b)


class RefAccumulator:
    """Merges the blocks' :class:`RefStats` (in any order) into the file's :class:`FileRefs`.

    Parameters
    ----------
    sr : int
        Sample rate (for the tuning estimate).
    """

    def __init__(self, sr: int) -> None:
        self.stats = RefStats()
        self.tuning = TuningEstimate(sr=sr)
        self.has_tuning = False

    def add(self, s: RefStats) -> None:
        """Merge one block's statistics."""
        t = self.stats
        t.mel_db_max = _max(t.mel_db_max, s.mel_db_max)
        t.contrast_peak_db_max = _max(t.contrast_peak_db_max, s.contrast_peak_db_max)
        t.contrast_valley_db_max = _max(t.contrast_valley_db_max, s.contrast_valley_db_max)
        if s.pitched is not None:
            self.tuning.add(pitched=s.pitched)
            self.has_tuning = True

    def result(self) -> FileRefs:
        """The file's references."""
        t = self.stats
        return FileRefs(
            t.mel_db_max,
            t.contrast_peak_db_max,
            t.contrast_valley_db_max,
            self.tuning.result() if self.has_tuning else None,
        )
