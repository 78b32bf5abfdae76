"""The real FFT every port uses: numpy's for small transforms, scipy's for large ones.

The backend is chosen by the size of the array being transformed, and by nothing else
(not by what happens to be imported, nor by the file or batch it came from). Feature
blocks have a fixed size whatever ``-j`` (:mod:`audiokit.features.blocks`), so a file's
values are bit-identical alone, in any batch and with any number of workers.
"""

from __future__ import annotations

import numpy as np

#: Transforms of fewer elements than this use numpy's FFT. scipy.fft is imported lazily
#: (below) because importing it costs 0.2-0.5 s (it pulls in scipy.special; measured
#: 0.49-0.58 s on the 2-core test machine), more than its faster float32 FFT (~3.5x)
#: saves on a short clip. 2**22 elements is a centred STFT of 2**20 samples with
#: n_fft = 4 * hop (the defaults): clips up to ~47 s at 22050 Hz never load scipy.
SCIPY_FFT_MIN_SIZE = 1 << 22


def uses_scipy(x: np.ndarray) -> bool:
    """Whether :func:`rfft` / :func:`irfft` of ``x`` go through scipy.fft (by size only)."""
    return x.size >= SCIPY_FFT_MIN_SIZE


def rfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> np.ndarray:
    """Real FFT (``numpy.fft.rfft`` / ``scipy.fft.rfft``; float32 in, complex64 out).

    Parameters
    ----------
    x : np.ndarray, shape (..., m, ...)
    n, axis
        As numpy's: transform length (zero-padded or cropped) and axis.

    Returns
    -------
    np.ndarray, shape (..., (n or m) // 2 + 1, ...)
    """
    if not uses_scipy(x):
        return np.fft.rfft(x, n=n, axis=axis)
    import scipy.fft  # lazy on purpose: see SCIPY_FFT_MIN_SIZE

    return scipy.fft.rfft(x, n=n, axis=axis)


def irfft(x: np.ndarray, n: int | None = None, axis: int = -1) -> np.ndarray:
    """Inverse of :func:`rfft` (same rule for the backend), real output of length ``n``."""
    if not uses_scipy(x):
        return np.fft.irfft(x, n=n, axis=axis)
    import scipy.fft  # lazy on purpose: see SCIPY_FFT_MIN_SIZE

    return scipy.fft.irfft(x, n=n, axis=axis)


def next_fast_len(n: int) -> int:
    """Smallest ``2**a * 3**b * 5**c >= n`` (``scipy.fft.next_fast_len(n, real=True)``)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best
