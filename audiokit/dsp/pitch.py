"""``librosa.core.pitch``: ``piptrack``, ``pitch_tuning``, ``estimate_tuning``.

``chroma_stft(y=...)`` estimates the tuning of the whole input this way: pitched bins
of every frame (:func:`piptrack`), the median of their magnitudes, and the peak of
the histogram of the residuals of the louder half (:func:`pitch_tuning`).
:class:`TuningEstimate` gives the same estimate from frames fed in runs, storing five
bytes per pitched bin (a float32 magnitude and its histogram bin).
"""

from __future__ import annotations

import numpy as np

from audiokit.dsp.filters import fft_frequencies


def _peaks(
    S: np.ndarray, sr: float, n_fft: int, fmin: float, fmax: float, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The pitched bins of :func:`piptrack`: (bin, frame, pitch, magnitude), shape (n,) each.

    Only the rows of ``[fmin, fmax)`` and their neighbours are examined; the values are
    computed as librosa computes them everywhere (``np.gradient`` along frequency, the
    parabolic shift in float64 cast to the dtype of ``S``).
    """
    n_bins = S.shape[0]
    freqs = fft_frequencies(sr=sr, n_fft=n_fft)
    rows = np.flatnonzero((max(fmin, 0.0) <= freqs) & (freqs < min(fmax, float(sr) / 2)))
    rows = rows[rows < n_bins]
    empty = np.zeros(0, dtype=np.intp)
    if not rows.size or S.shape[1] == 0 or n_bins < 2:
        return empty, empty, np.zeros(0, S.dtype), np.zeros(0, S.dtype)
    lo, hi = int(rows[0]), int(rows[-1]) + 1
    a, b = max(lo - 1, 0), min(hi + 1, n_bins)
    ref = threshold * np.max(S, axis=0)
    X = S[a:b] * (S[a:b] > ref)
    # librosa.util.localmax along frequency: x[i] > x[i-1] and x[i] >= x[i+1]; never
    # the first row, the last when above its neighbour
    lm = np.zeros((hi - lo, S.shape[1]), dtype=bool)
    first, last = max(lo, 1), min(hi, n_bins - 1)
    if last > first:
        j0, j1 = first - a, last - a
        lm[first - lo : last - lo] = (X[j0:j1] > X[j0 - 1 : j1 - 1]) & (
            X[j0:j1] >= X[j0 + 1 : j1 + 1]
        )
    if hi == n_bins:
        lm[-1] = X[-1] > X[-2]
    ki, t = np.nonzero(lm)
    i = ki + lo
    inner = (i > 0) & (i < n_bins - 1)
    s0 = S[i, t]
    sp, sm = S[np.minimum(i + 1, n_bins - 1), t], S[np.maximum(i - 1, 0), t]
    # _parabolic_interpolation: 0 at the edges and when the optimum is over a bin away
    x0, xp, xm = s0.astype(np.float64), sp.astype(np.float64), sm.astype(np.float64)
    pa = xp + xm - 2 * x0
    pb = (xp - xm) / 2
    ok = inner & (np.abs(pb) < np.abs(pa))
    shift64 = np.zeros(len(i), dtype=np.float64)
    np.divide(-pb, pa, out=shift64, where=ok)
    shift = shift64.astype(S.dtype)
    # np.gradient: central differences inside, one-sided at the edges
    avg = np.where(inner, (sp - sm) / S.dtype.type(2), np.where(i == 0, sp - s0, s0 - sm))
    dskew = S.dtype.type(0.5) * avg.astype(S.dtype) * shift
    pitches = ((i + shift) * float(sr) / n_fft).astype(S.dtype)
    return i, t, pitches, (s0 + dskew).astype(S.dtype)


def piptrack(
    *,
    S: np.ndarray,
    sr: float = 22050,
    n_fft: int | None = None,
    fmin: float = 150.0,
    fmax: float = 4000.0,
    threshold: float = 0.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Pitches and magnitudes of the spectral peaks (``librosa.piptrack(S=S)``, ``ref=np.max``).

    A bin is pitched when it is a local maximum over frequency, in ``[fmin, fmax)``,
    above ``threshold`` times its frame's maximum; its pitch and magnitude come from a
    parabola through it and its neighbours.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)
        Magnitude (or power, as ``chroma_stft`` passes) spectrogram.
    n_fft
        None: ``2 * (bins - 1)``, as librosa reads it from ``S``.

    Returns
    -------
    pitches, magnitudes : np.ndarray, shape (1 + n_fft // 2, t), dtype of ``S``
        Zero where no pitch.
    """
    S = np.abs(S)
    n_fft = 2 * (S.shape[0] - 1) if n_fft is None else n_fft
    i, t, p, m = _peaks(S, sr, n_fft, fmin, fmax, threshold)
    pitches = np.zeros_like(S)
    mags = np.zeros_like(S)
    pitches[i, t] = p
    mags[i, t] = m
    return pitches, mags


def _residual_edges(resolution: float) -> np.ndarray:
    return np.linspace(-0.5, 0.5, int(np.ceil(1.0 / resolution)) + 1)


def _residuals(frequencies: np.ndarray, bins_per_octave: int) -> np.ndarray:
    """Deviation of each frequency (> 0) from the nearest bin of A440, in [-0.5, 0.5) bins."""
    octs = np.log2(frequencies / (440.0 / 16))
    residual = np.mod(bins_per_octave * octs, 1.0)
    residual[residual >= 0.5] -= 1.0
    return residual


def pitch_tuning(
    frequencies: np.ndarray, *, resolution: float = 0.01, bins_per_octave: int = 12
) -> float:
    """Tuning offset of a set of pitches in fractions of a bin (``librosa.pitch_tuning``).

    Parameters
    ----------
    frequencies : np.ndarray, shape (n,)
        Hz; values <= 0 are ignored.

    Returns
    -------
    float in [-0.5, 0.5): the left edge of the fullest residual histogram bin; 0.0 for
    no frequencies (librosa also warns).
    """
    f = np.atleast_1d(frequencies)
    f = f[f > 0]
    if not np.any(f):
        return 0.0
    counts, edges = np.histogram(_residuals(f, bins_per_octave), _residual_edges(resolution))
    return float(edges[np.argmax(counts)])


def estimate_tuning(
    *,
    S: np.ndarray,
    sr: float = 22050,
    n_fft: int | None = None,
    resolution: float = 0.01,
    bins_per_octave: int = 12,
) -> float:
    """Tuning of a spectrogram (``librosa.estimate_tuning(S=S, sr=sr)``).

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, t)

    Returns
    -------
    float in [-0.5, 0.5), fractions of a bin
    """
    est = TuningEstimate(sr=sr, n_fft=n_fft, resolution=resolution, bins_per_octave=bins_per_octave)
    est.add(S=S)
    return est.result()


class TuningEstimate:
    """:func:`estimate_tuning` of frames fed in runs: the result of all frames at once.

    Each pitched bin is kept as its magnitude (float32) and residual histogram bin
    (uint8): five bytes per pitched bin, whatever the duration of the frames.

    Parameters
    ----------
    sr, n_fft, resolution, bins_per_octave
        As :func:`estimate_tuning`.
    """

    def __init__(
        self,
        *,
        sr: float = 22050,
        n_fft: int | None = None,
        resolution: float = 0.01,
        bins_per_octave: int = 12,
    ) -> None:
        self.sr, self.n_fft, self.bins_per_octave = sr, n_fft, bins_per_octave
        self.edges = _residual_edges(resolution)
        self.mags: list[np.ndarray] = []
        self.bins: list[np.ndarray] = []

    def pitched(self, *, S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Magnitudes (float32) and histogram bins (uint8) of the pitched bins of ``S``."""
        S = np.abs(S)
        n_fft = 2 * (S.shape[0] - 1) if self.n_fft is None else self.n_fft
        _, _, p, m = _peaks(S, self.sr, n_fft, 150.0, 4000.0, 0.1)
        mask = p > 0
        residual = _residuals(p[mask], self.bins_per_octave)
        n_bins = len(self.edges) - 1
        # np.histogram's rule: [edge_i, edge_i+1), the last bin closed
        b = np.clip(np.searchsorted(self.edges, residual, side="right") - 1, 0, n_bins - 1)
        return m[mask].astype(np.float32), b.astype(np.uint8)

    def add(
        self, *, S: np.ndarray | None = None, pitched: tuple[np.ndarray, np.ndarray] | None = None
    ) -> None:
        """Feed frames ``S`` (shape (bins, t)), or what :meth:`pitched` gave for them."""
        mags, bins = pitched if pitched is not None else self.pitched(S=S)  # type: ignore[arg-type]
        self.mags.append(mags)
        self.bins.append(bins)

    def result(self) -> float:
        """The tuning estimate in [-0.5, 0.5) (0.0 when no bin was pitched)."""
        mags = np.concatenate(self.mags) if self.mags else np.zeros(0, np.float32)
        if not mags.size:
            return 0.0
        bins = np.concatenate(self.bins)
        keep = mags >= np.median(mags)
        counts = np.bincount(bins[keep], minlength=len(self.edges) - 1)
        return float(self.edges[np.argmax(counts)])

    @property
    def nbytes(self) -> int:
        """Bytes held."""
        return sum(m.nbytes + b.nbytes for m, b in zip(self.mags, self.bins, strict=True))
