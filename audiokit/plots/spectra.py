"""Pure computations behind the pictures: envelopes, dB spectrograms, PSD, zero crossings.

Everything works on numpy arrays shaped ``(lanes, n)`` (one row per drawn
channel). The accumulators (:class:`MinMaxEnvelope`, :class:`PooledStft`,
:class:`SegmentAverage`) take a signal block by block, so that a file of any
length is reduced in memory bounded by the picture, not by the file:

- the waveform of ``n`` samples becomes a min/max pair per pixel column;
- the STFT is computed frame by frame (exactly as ``librosa.stft(center=True)``
  with zero padding) and its power is mean-pooled over groups of ``pool``
  consecutive frames, so at most ``max_columns`` columns are kept;
- Welch's PSD and the long-file magnitude spectrum are means over segments.

No matplotlib here. The STFT, dB and mel pieces are the numpy ports of
:mod:`audiokit.dsp` (equal to librosa's); scipy is imported only for Welch's PSD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audiokit.dsp import feature, filters, spectrum

#: Default dynamic range of dB pictures (as librosa's ``top_db``).
DEFAULT_TOP_DB = 80.0


# --------------------------------------------------------------------------- waveform envelope


class MinMaxEnvelope:
    """Min and max of a signal over ``n_cols`` equal columns, fed block by block.

    Sample ``i`` of ``n_total`` falls in column ``i * n_cols // n_total``.

    Parameters
    ----------
    n_total
        Samples per lane that will be fed in total.
    n_cols
        Number of columns (about the pixel width of the plot).
    lanes
        Rows of the blocks (channels drawn).
    """

    def __init__(self, n_total: int, n_cols: int, lanes: int) -> None:
        self.n_total = max(int(n_total), 1)
        self.n_cols = max(1, min(int(n_cols), self.n_total))
        self.mins = np.full((lanes, self.n_cols), np.inf, dtype=np.float32)
        self.maxs = np.full((lanes, self.n_cols), -np.inf, dtype=np.float32)
        # First sample of each column (and n_total at the end).
        self._starts = -(-np.arange(self.n_cols + 1, dtype=np.int64) * self.n_total // self.n_cols)
        self.fed = 0

    def feed(self, block: np.ndarray) -> None:
        """Add the next samples, shape ``(lanes, n)``."""
        n = block.shape[-1]
        if n == 0:
            return
        lo, hi = self.fed, self.fed + n
        c0 = int(np.searchsorted(self._starts, lo, side="right") - 1)
        c1 = int(np.searchsorted(self._starts, hi - 1, side="right") - 1)
        cuts = np.clip(self._starts[c0 : c1 + 1] - lo, 0, n)
        cuts[0] = 0
        mn = np.minimum.reduceat(block, cuts, axis=1)
        mx = np.maximum.reduceat(block, cuts, axis=1)
        self.mins[:, c0 : c1 + 1] = np.minimum(self.mins[:, c0 : c1 + 1], mn)
        self.maxs[:, c0 : c1 + 1] = np.maximum(self.maxs[:, c0 : c1 + 1], mx)
        self.fed = hi

    def column_times(self, sr: int, offset: float = 0.0) -> np.ndarray:
        """Centre time in seconds of each column, shape ``(n_cols,)``."""
        s = self._starts.astype("float64")
        return offset + (s[:-1] + s[1:] - 1) / 2 / sr


def envelope(y: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Min/max envelope of a whole array.

    Parameters
    ----------
    y : np.ndarray, shape (lanes, n)
    n_cols
        Columns wanted.

    Returns
    -------
    mins, maxs : np.ndarray, shape (lanes, min(n_cols, n))
    """
    env = MinMaxEnvelope(y.shape[-1], n_cols, y.shape[0])
    env.feed(y)
    return env.mins, env.maxs


# --------------------------------------------------------------------------- STFT


@dataclass(frozen=True)
class StftParams:
    """STFT parameters (librosa's names and defaults)."""

    n_fft: int = 2048
    hop_length: int = 512
    window: str = "hann"


def n_frames(n_samples: int, hop_length: int) -> int:
    """Frames of ``librosa.stft(center=True)`` for ``n_samples`` samples."""
    return 1 + n_samples // hop_length


def pool_factor(n_samples: int, hop_length: int, max_columns: int | None) -> int:
    """Frames averaged per column so that at most ``max_columns`` columns remain."""
    if not max_columns:
        return 1
    return max(1, math.ceil(n_frames(n_samples, hop_length) / max_columns))


class PooledStft:
    """Power STFT of a stream, mean-pooled over groups of ``pool`` frames.

    Frames are exactly those of ``librosa.stft(y, n_fft, hop_length, window,
    center=True, pad_mode="constant")``: the stream is padded with ``n_fft // 2``
    zeros at both ends. With ``pool=1`` the result equals ``|stft|**2``
    (computed with numpy, see :mod:`audiokit.dsp`).

    Parameters
    ----------
    params
        FFT size, hop and window.
    lanes
        Rows of the blocks.
    pool
        Frames averaged into one column (mean of power).
    """

    def __init__(self, params: StftParams, lanes: int, pool: int = 1) -> None:
        self.p = params
        self.pool = max(1, int(pool))
        self._buf = np.zeros((lanes, params.n_fft // 2), dtype=np.float32)
        self._acc: np.ndarray | None = None  # power summed over the current group
        self._count = 0
        self._cols: list[np.ndarray] = []
        self.frames = 0

    def _frames_from_buffer(self) -> None:
        n_fft, hop = self.p.n_fft, self.p.hop_length
        avail = self._buf.shape[-1]
        if avail < n_fft:
            return
        m = 1 + (avail - n_fft) // hop
        seg = self._buf[:, : (m - 1) * hop + n_fft]
        spec = spectrum.stft(y=seg, n_fft=n_fft, hop_length=hop, window=self.p.window, center=False)
        power = np.ascontiguousarray(spec.real**2 + spec.imag**2)  # (lanes, bins, m)
        self._buf = self._buf[:, m * hop :]
        self.frames += m
        self._pool(power)

    def _pool(self, power: np.ndarray) -> None:
        i = 0
        m = power.shape[-1]
        while i < m:
            take = min(self.pool - self._count, m - i)
            part = power[..., i : i + take].sum(axis=-1)
            self._acc = part if self._acc is None else self._acc + part
            self._count += take
            i += take
            if self._count == self.pool:
                self._cols.append(self._acc / self.pool)
                self._acc, self._count = None, 0

    def feed(self, block: np.ndarray) -> None:
        """Add samples, shape ``(lanes, n)``."""
        self._buf = np.concatenate([self._buf, block.astype(np.float32, copy=False)], axis=-1)
        if self._buf.shape[-1] >= self.p.n_fft + 64 * self.p.hop_length:
            self._frames_from_buffer()

    def finish(self) -> np.ndarray:
        """Pad the end, flush, and return the pooled power.

        Returns
        -------
        np.ndarray, shape (lanes, 1 + n_fft // 2, cols), float32
        """
        lanes = self._buf.shape[0]
        pad = np.zeros((lanes, self.p.n_fft // 2), dtype=np.float32)
        self._buf = np.concatenate([self._buf, pad], axis=-1)
        self._frames_from_buffer()
        if self._count:
            assert self._acc is not None
            self._cols.append(self._acc / self._count)
            self._acc, self._count = None, 0
        bins = 1 + self.p.n_fft // 2
        if not self._cols:
            return np.zeros((lanes, bins, 0), dtype=np.float32)
        return np.stack(self._cols, axis=-1)


def power_to_db(power: np.ndarray, top_db: float | None = DEFAULT_TOP_DB) -> np.ndarray:
    """Power in dB relative to its maximum (``librosa.power_to_db(ref=np.max)``).

    An all-zero input (digital silence) gives ``-top_db`` everywhere (dark),
    not 0 dB.

    Parameters
    ----------
    power : np.ndarray, any shape
    top_db
        Floor below the maximum; None: no floor.

    Returns
    -------
    np.ndarray, float32, same shape, values in ``[-top_db, 0]``.
    """
    if power.size == 0 or float(np.max(power)) <= 0.0:
        return np.full(power.shape, -(top_db or DEFAULT_TOP_DB), dtype=np.float32)
    db = spectrum.power_to_db(S=power, ref=np.max, top_db=top_db)
    return db.astype(np.float32, copy=False)


def mel_power(
    power: np.ndarray, sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None
) -> np.ndarray:
    """Apply librosa's mel filterbank to a power spectrogram.

    Parameters
    ----------
    power : np.ndarray, shape (..., 1 + n_fft // 2, frames)

    Returns
    -------
    np.ndarray, shape (..., n_mels, frames)
    """
    return feature.melspectrogram(S=power, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)


def mel_band_edges(n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Edges in Hz of the drawn mel bands, shape ``(n_mels + 1,)``.

    Band ``i`` is drawn between the midpoints (in mel) to its neighbours'
    filter centres, so each filter's centre frequency lies in its band.
    """
    lo, hi = float(filters.hz_to_mel(fmin)), float(filters.hz_to_mel(fmax))
    step = (hi - lo) / (n_mels + 1)
    edges_mel = lo + step / 2 + step * np.arange(n_mels + 1)
    return filters.mel_to_hz(edges_mel)


def frame_edges(
    n_cols: int, pool: int, n_frames_total: int, hop_length: int, sr: int, duration: float
) -> np.ndarray:
    """Time edges in seconds of pooled STFT columns, shape ``(n_cols + 1,)``.

    Frame ``f`` is centred on ``f * hop / sr`` and drawn over one hop around
    it; a column covers its ``pool`` frames. Edges are clipped to
    ``[0, duration]``.
    """
    f = np.minimum(np.arange(n_cols + 1) * pool, n_frames_total).astype(np.float64)
    return np.clip((f - 0.5) * hop_length / sr, 0.0, duration)


def linear_bin_edges(n_fft: int, sr: int) -> np.ndarray:
    """Edges in Hz of the STFT bins, shape ``(1 + n_fft // 2 + 1,)``, clipped to ``[0, sr/2]``."""
    k = np.arange(n_fft // 2 + 2, dtype=np.float64) - 0.5
    return np.clip(k * sr / n_fft, 0.0, sr / 2)


# --------------------------------------------------------------------------- segment averages


class SegmentAverage:
    """Mean of a per-segment spectrum over a stream cut in segments.

    Segments start every ``step`` samples and are ``nperseg`` long, exactly as
    scipy's Welch segmentation of the whole signal (trailing samples that do not
    fill a segment are ignored, as scipy does).

    Parameters
    ----------
    nperseg, step
        Segment length and hop, in samples.
    lanes
        Rows of the blocks.
    kind
        ``"welch"``: ``scipy.signal.welch`` density (V**2/Hz, Hann window,
        constant detrend); ``"magnitude"``: ``|rfft(hann * x)|``.
    sr
        Sample rate (Hz) for the Welch density.
    """

    def __init__(self, nperseg: int, step: int, lanes: int, kind: str, sr: int) -> None:
        self.nperseg, self.step, self.kind, self.sr = int(nperseg), int(step), kind, sr
        self._buf = np.zeros((lanes, 0), dtype=np.float32)
        self._sum: np.ndarray | None = None
        self.segments = 0

    def _reduce(self, chunk: np.ndarray, m: int) -> None:
        if self.kind == "welch":
            from scipy.signal import welch

            _, pxx = welch(
                chunk, fs=self.sr, nperseg=self.nperseg, noverlap=self.nperseg - self.step, axis=-1
            )
            total = pxx * m
        else:
            w = spectrum.get_window("hann", self.nperseg)
            view = np.lib.stride_tricks.sliding_window_view(chunk, self.nperseg, axis=-1)
            segs = view[:, :: self.step][:, :m]
            total = np.abs(np.fft.rfft(segs * w, axis=-1)).sum(axis=1)
        self._sum = total if self._sum is None else self._sum + total
        self.segments += m

    def _drain(self, final: bool) -> None:
        avail = self._buf.shape[-1]
        if avail < self.nperseg:
            return
        m = 1 + (avail - self.nperseg) // self.step
        if not final:
            m = min(m, max(1, (1 << 20) // self.step))
        self._reduce(self._buf[:, : (m - 1) * self.step + self.nperseg], m)
        self._buf = self._buf[:, m * self.step :]

    def feed(self, block: np.ndarray) -> None:
        """Add samples, shape ``(lanes, n)``."""
        self._buf = np.concatenate([self._buf, block.astype(np.float32, copy=False)], axis=-1)
        while self._buf.shape[-1] >= self.nperseg + (1 << 20):
            self._drain(final=False)

    def finish(self) -> np.ndarray:
        """The mean spectrum, shape ``(lanes, nperseg // 2 + 1)``.

        Raises
        ------
        ValueError
            Fewer than ``nperseg`` samples were fed.
        """
        self._drain(final=True)
        if self._sum is None:
            raise ValueError("signal shorter than one segment")
        return self._sum / self.segments


def welch_psd(y: np.ndarray, sr: int, nperseg: int) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD (``scipy.signal.welch``: Hann, 50 % overlap, density) of a whole array.

    Parameters
    ----------
    y : np.ndarray, shape (lanes, n)
    sr
        Sample rate in Hz.
    nperseg
        Segment length (shortened to ``n`` for short signals).

    Returns
    -------
    freqs : np.ndarray, shape (nperseg // 2 + 1,)
    psd : np.ndarray, shape (lanes, nperseg // 2 + 1), in V**2/Hz
    """
    nperseg = max(2, min(nperseg, y.shape[-1]))
    acc = SegmentAverage(nperseg, nperseg // 2, y.shape[0], "welch", sr)
    acc.feed(y)
    return np.fft.rfftfreq(nperseg, 1 / sr), acc.finish()


def magnitude_spectrum_db(
    y: np.ndarray, sr: int, top_db: float | None = DEFAULT_TOP_DB
) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude spectrum in dB (re. its maximum) of one Hann-windowed FFT of all of ``y``.

    Parameters
    ----------
    y : np.ndarray, shape (lanes, n)

    Returns
    -------
    freqs : np.ndarray, shape (n // 2 + 1,)
    db : np.ndarray, shape (lanes, n // 2 + 1), in ``[-top_db, 0]``
    """
    acc = SegmentAverage(y.shape[-1], y.shape[-1], y.shape[0], "magnitude", sr)
    acc.feed(y)
    mag = acc.finish()
    return np.fft.rfftfreq(y.shape[-1], 1 / sr), power_to_db(mag**2, top_db)
