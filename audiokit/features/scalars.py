"""Scalar columns of the feature groups: reducers fed block by block, read per range.

Each group with scalar columns (``tempo``, ``hpss``, ``f0``) has a reducer
(:data:`audiokit.features.groups.FEATURE_GROUPS`): it takes the hidden arrays every
block computes (:class:`audiokit.features.groups.Part`) in file order, and gives the
group's scalars over the whole file or each window's frame range.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from audiokit.dsp import beat
from audiokit.features.schema import FeatureParams


class Reducer(Protocol):
    """Scalar columns of one group over a file, fed block by block."""

    def add(self, hidden: dict[str, np.ndarray]) -> None:
        """Take a block's hidden data (in file order)."""

    def values(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """The group's scalars over each frame range, shape (len(ranges), n_scalars)."""
        ...


class Concat:
    """Concatenates hidden arrays ``keys`` of the blocks."""

    keys: tuple[str, ...] = ()

    def __init__(self, sr: int, p: FeatureParams) -> None:
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in self.keys}

    def add(self, hidden: dict[str, np.ndarray]) -> None:
        for k in self.keys:
            self.parts[k].append(hidden[k])

    def joined(self, key: str) -> np.ndarray:
        return np.concatenate(self.parts[key])


class TempoScalars:
    """``tempo`` and ``beat_count``: a streaming tempogram and the beat tracker."""

    def __init__(self, sr: int, p: FeatureParams) -> None:
        self.sr, self.hop = sr, p.hop_length
        self.tg = beat.Tempogram(sr, p.hop_length)
        self.env: list[np.ndarray] = []

    def add(self, hidden: dict[str, np.ndarray]) -> None:
        env, total = hidden["tempo_env"], hidden.get("tempogram")
        self.env.append(env)
        self.tg.feed(env, advance=total is None)
        if total is not None:
            self.tg.add_sum(total, len(env))

    def values(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        env = np.concatenate(self.env)
        whole = self.tg.tempo()
        _, beats = beat.beat_track(onset_envelope=env, sr=self.sr, hop_length=self.hop, bpm=whole)
        out = np.empty((len(ranges), 2))
        for i, (lo, hi) in enumerate(ranges):
            out[i, 0] = whole if (lo, hi) == (0, len(env)) else self.tg.tempo(lo, max(hi, lo + 1))
            out[i, 1] = np.count_nonzero((beats >= lo) & (beats < hi))
        return out


class HpssScalars(Concat):
    """``hpss_ratio``: harmonic share of the HPSS energy."""

    keys = ("harmonic", "percussive")

    def values(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        harmonic, percussive = self.joined("harmonic"), self.joined("percussive")
        out = np.empty((len(ranges), 1))
        for i, (lo, hi) in enumerate(ranges):
            h, q = float(harmonic[lo:hi].sum()), float(percussive[lo:hi].sum())
            out[i, 0] = h / (h + q) if h + q > 0 else 0.0
        return out


class VoicedScalars(Concat):
    """``voiced_fraction``: share of frames pYIN calls voiced."""

    keys = ("voiced",)

    def values(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        voiced = self.joined("voiced")
        out = np.empty((len(ranges), 1))
        for i, (lo, hi) in enumerate(ranges):
            v = voiced[lo:hi]
            out[i, 0] = float(v.mean()) if len(v) else 0.0
        return out
