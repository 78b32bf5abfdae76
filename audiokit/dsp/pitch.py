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


def _parabolic_shift(S: np.ndarray) -> np.ndarray:
    """librosa's ``_parabolic_interpolation`` along axis 0 (0 at the edges, dtype of ``S``)."""
    x = S.astype(np.float64)
    shift = np.zeros(S.shape, dtype=np.float64)
    a = x[2:] + x[:-2] - 2 * x[1:-1]
    b = (x[2:] - x[:-2]) / 2
    ok = np.abs(b) < np.abs(a)
    np.divide(-b, a, out=shift[1:-1], where=ok)
    return shift.astype(S.dtype)


def _localmax(x: np.ndarray) -> np.ndarray:
    """``librosa.util.localmax(x, axis=0)``: ``x[i] > x[i-1]`` and ``x[i] >= x[i+1]``."""
    out = np.zeros(x.shape, dtype=bool)
    out[1:-1] = (x[1:-1] > x[:-2]) & (x[1:-1] >= x[2:])
    out[-1] = x[-1] > x[-2]
    return out


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
    fmin = max(fmin, 0.0)
    fmax = min(fmax, float(sr) / 2)
    freqs = fft_frequencies(sr=sr, n_fft=n_fft)
    avg = np.gradient(S, axis=0)
    shift = _parabolic_shift(S)
    dskew = 0.5 * avg * shift
    pitches = np.zeros_like(S)
    mags = np.zeros_like(S)
    freq_mask = ((fmin <= freqs) & (freqs < fmax))[:, None]
    ref = threshold * np.max(S, axis=0, keepdims=True) if S.size else S
    idx = np.nonzero(freq_mask & _localmax(S * (ref < S)))
    pitches[idx] = (idx[0] + shift[idx]) * float(sr) / n_fft
    mags[idx] = S[idx] + dskew[idx]
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
        pitch, mag = piptrack(S=S, sr=self.sr, n_fft=self.n_fft)
        mask = pitch > 0
        residual = _residuals(pitch[mask], self.bins_per_octave)
        n_bins = len(self.edges) - 1
        # np.histogram's rule: [edge_i, edge_i+1), the last bin closed
        b = np.clip(np.searchsorted(self.edges, residual, side="right") - 1, 0, n_bins - 1)
        return mag[mask].astype(np.float32), b.astype(np.uint8)

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
