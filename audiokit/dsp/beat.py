"""``librosa.feature.tempo`` and ``librosa.beat.beat_track`` from an onset envelope.

librosa's ``tempo`` builds a tempogram with one 8-second autocorrelation
column per frame (344 values per frame at 22050 Hz / 512): for a 3-hour file
that is ~700 MB. Here the columns are computed in chunks and averaged as they
go, giving librosa's result (same windowing, padding, normalisation, prior)
with memory independent of the duration.
"""

from __future__ import annotations

import numpy as np

from audiokit.dsp.fft import irfft, next_fast_len, rfft

#: Tempogram columns computed at once.
CHUNK = 4096
START_BPM = 120.0
MAX_TEMPO = 320.0


def tempo_win_length(sr: int, hop_length: int) -> int:
    """librosa's tempogram window: 8 seconds of frames."""
    return int(8.0 * sr) // hop_length


def column_sum(padded: np.ndarray, t0: int, t1: int, win: int) -> np.ndarray:
    """Sum of tempogram columns ``t0 <= t < t1`` of a padded onset envelope, shape (win,).

    Column ``t`` is ``padded[t : t + win]`` times a periodic Hann window,
    autocorrelated (``librosa.autocorrelate``) and scaled to a peak of 1
    (``librosa.util.normalize(norm=inf)``), as in ``librosa.feature.tempogram``.

    An autocorrelation peaks at lag 0 (``|ac[k]| <= ac[0]``, Cauchy-Schwarz), so each
    column's peak is its frame's energy, and the sum of the scaled columns is one
    inverse FFT of the sum of the scaled power spectra: one forward FFT per frame.
    """
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)
    n_pad = next_fast_len(2 * win - 1)
    power = np.zeros(n_pad // 2 + 1)
    tiny = np.finfo(np.float64).tiny
    for a in range(t0, t1, CHUNK):
        b = min(t1, a + CHUNK)
        frames = np.lib.stride_tricks.sliding_window_view(padded, win)[a:b] * window
        spec = rfft(frames, n=n_pad, axis=-1)
        energy = np.einsum("ij,ij->i", frames, frames)
        energy[energy < tiny] = 1.0
        power += ((spec.real**2 + spec.imag**2) / energy[:, None]).sum(axis=0)
    return irfft(power, n=n_pad)[:win]


def block_column_sum(
    env: np.ndarray, core: tuple[int, int], edges: tuple[bool, bool], sr: int, hop_length: int
) -> np.ndarray:
    """Tempogram column sum of the ``core`` frames of a block's onset envelope.

    ``env`` covers the block's frames with at least ``win - win // 2`` frames of
    context on each side, unless that side is an edge of the file (``edges``),
    where the envelope is padded with librosa's linear ramp to zero instead.
    """
    win = tempo_win_length(sr, hop_length)
    half = win // 2
    left, right = (half if edges[0] else 0), (half if edges[1] else 0)
    padded = np.pad(env, (left, right), mode="linear_ramp", end_values=(0, 0))
    return column_sum(padded, core[0] + left - half, core[1] + left - half, win)


def tempo_frequencies(n_bins: int, *, hop_length: int = 512, sr: float = 22050) -> np.ndarray:
    """BPM of each autocorrelation lag (``librosa.tempo_frequencies``); lag 0 is ``inf``.

    Returns
    -------
    np.ndarray, shape (n_bins,), float64
    """
    bpms = np.zeros(n_bins)
    bpms[0] = np.inf
    bpms[1:] = 60.0 * sr / (hop_length * np.arange(1.0, n_bins))
    return bpms


def _prior(bpms: np.ndarray) -> np.ndarray:
    """librosa's default tempo prior: log-normal around 120 BPM, nothing above 320 BPM."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logprior = -0.5 * ((np.log2(bpms) - np.log2(START_BPM)) / 1.0) ** 2
    logprior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
    return logprior


class Tempogram:
    """Autocorrelation tempogram of an onset envelope, averaged over frame ranges.

    The envelope can arrive in pieces (:meth:`feed`): columns whose 8-second
    window is complete are computed and summed as soon as possible, so that
    the work overlaps with the computation of later blocks; :meth:`tempo`
    then finishes the last columns. Column ranges (windows) are computed on
    demand from the whole envelope.

    Parameters
    ----------
    sr, hop_length : int
    """

    def __init__(self, sr: int, hop_length: int) -> None:
        self.sr, self.hop = sr, hop_length
        self.win = tempo_win_length(sr, hop_length)
        self.parts: list[np.ndarray] = []
        self.env = np.zeros(0, np.float32)
        self.total = np.zeros(self.win)
        self.done = 0  # columns summed into ``total``

    def feed(self, part: np.ndarray, advance: bool = True) -> None:
        """Append envelope frames; sum the columns that are now complete (``advance``)."""
        self.parts.append(part)
        if advance:
            self._advance(final=False)

    def _padded(self) -> np.ndarray:
        if self.parts:
            self.env = np.concatenate([self.env, *self.parts])
            self.parts = []
        half = self.win // 2
        return np.pad(self.env, (half, half), mode="linear_ramp", end_values=(0, 0))

    def _advance(self, final: bool) -> None:
        padded = self._padded()
        n = len(self.env)
        stop = n if final else max(self.done, n + self.win // 2 - self.win)
        if stop > self.done:
            self.total += self._columns(padded, self.done, stop)
            self.done = stop

    def _columns(self, padded: np.ndarray, t0: int, t1: int) -> np.ndarray:
        return column_sum(padded, t0, t1, self.win)

    def add_sum(self, total: np.ndarray, n: int) -> None:
        """Add the column sum of the next ``n`` frames, computed elsewhere (by a block)."""
        self.total += total
        self.done += n

    def tempo(self, t0: int = 0, t1: int | None = None) -> float:
        """Tempo (BPM) of frames ``t0..t1``, as ``librosa.feature.tempo`` (prior at 120 BPM)."""
        self._advance(final=True)
        n = len(self.env)
        t1 = n if t1 is None else t1
        if (t0, t1) == (0, n):
            tg = self.total / max(n, 1)
        else:
            tg = self._columns(self._padded(), t0, t1) / max(t1 - t0, 1)
        bpms = tempo_frequencies(self.win, hop_length=self.hop, sr=self.sr)
        return float(bpms[int(np.argmax(np.log1p(1e6 * tg) + _prior(bpms)))])


def _local_score(onsets: np.ndarray, window: np.ndarray) -> np.ndarray:
    """librosa's beat local score, summed in the same order and precision.

    ``local[i] = sum_k window[k] * onsets[i + K//2 - k]`` over ``k`` ascending,
    accumulated in the type of ``onsets``, and (as in librosa) without ``onsets[0]``.

    The terms of :data:`LOCAL_ROWS` frames at a time form a (rows, K) matrix whose
    running sum along each row (``np.cumsum``, strictly sequential) ends in
    librosa's sum; onsets outside ``1 .. n - 1`` are zeros (``x + 0.0 == x``).
    """
    n, K = len(onsets), len(window)
    half = K // 2
    dtype = onsets.dtype
    # padded[m] = onsets[m - K] for 1 <= m - K <= n - 1, else 0
    padded = np.zeros(n + 2 * K, dtype=dtype)
    padded[K + 1 : K + n] = onsets[1:]
    # term (i, k) = window[k] * onsets[i + half - k] = window[k] * padded[i + half - k + K]
    w = window.astype(dtype)
    out = np.empty(n, dtype=dtype)
    for a in range(0, n, LOCAL_ROWS):
        b = min(n, a + LOCAL_ROWS)
        # row i, column c = K - 1 - k  ->  padded[i + half + K - k] = padded[i + half + 1 + c]
        view = np.lib.stride_tricks.sliding_window_view(padded, K)[a + half + 1 : b + half + 1]
        terms = view[:, ::-1] * w  # column k: window[k] * padded[i + half + K - k]
        out[a:b] = np.cumsum(terms, axis=1)[:, -1]
    return out


#: Frames of :func:`_local_score` at a time (a (rows, K) float64 matrix: ~8 MB at 120 BPM).
LOCAL_ROWS = 1 << 13


def _beat_dp(local: np.ndarray, penalty: np.ndarray, hi_off: int) -> tuple[np.ndarray, np.ndarray]:
    """librosa's beat dynamic programme: cumulative scores and the best previous beat.

    ``cum[i] = local[i] + max_k (cum[i - hi_off - k] - penalty[k])`` over the candidates
    ``i - hi_off - k >= 0`` (the first maximum, as librosa's loop), ``local[i]`` alone when
    there is none. A frame's candidates lie at least ``hi_off`` frames back, so each run
    of ``hi_off`` frames is computed at once from the finished ones before it.

    Parameters
    ----------
    local : np.ndarray, shape (n,), float64
        Local score.
    penalty : np.ndarray, shape (L,)
        Penalty of the lags ``hi_off .. hi_off + L - 1``.

    Returns
    -------
    cum : np.ndarray, shape (n,), float64
    loc : np.ndarray, shape (n,), int64
        The chosen previous frame, -1 when there was no candidate.
    """
    n, n_lags = len(local), len(penalty)
    cum = np.zeros(n, dtype=np.float64)
    loc = np.full(n, -1, dtype=np.int64)
    if n_lags == 0:
        return local.astype(np.float64), loc
    step = max(hi_off, 1)
    ks = np.arange(n_lags)
    for s in range(0, n, step):
        e = min(n, s + step)
        top = np.arange(s, e) - hi_off
        j = top[:, None] - ks[None, :]
        scores = np.where(j >= 0, cum[np.maximum(j, 0)] - penalty[None, :], -np.inf)
        k = np.argmax(scores, axis=1)
        has = top >= 0
        best = scores[np.arange(e - s), k]
        cum[s:e] = np.where(has, local[s:e] + np.where(has, best, 0.0), local[s:e])
        loc[s:e] = np.where(has, top - k, -1)
    return cum, loc


def _beat_frames(env: np.ndarray, sr: int, hop_length: int, bpm: float) -> np.ndarray:
    """Beat frames, as ``librosa.beat.beat_track(onset_envelope=env, bpm=bpm)`` (trimmed).

    A numpy port of librosa 0.11's dynamic-programming tracker (Ellis 2007:
    local score, DP with tightness 100, last-beat selection, backtracking,
    trimming of weak leading/trailing beats). librosa compiles it with numba
    at import time, which costs seconds per process; this costs microseconds
    per frame.

    Parameters
    ----------
    env : np.ndarray, shape (n,)
        Onset envelope.

    Returns
    -------
    np.ndarray of int
        Beat frame indices.
    """
    env = np.asarray(env)
    if len(env) < 2 or not np.any(env):
        return np.zeros(0, dtype=int)
    env_dtype = env.dtype if env.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    fpb = float(np.round(sr / hop_length * 60.0 / bpm))
    # librosa normalises in the envelope's type; its frames per beat are float64, so its
    # compiled kernels (local score, DP, trimming) run in float64 whatever the envelope.
    onsets = (env / (env.std(ddof=1) + np.finfo(env_dtype).tiny)).astype(env_dtype)
    dtype = np.dtype(np.float64)
    # local score: onsets convolved with a Gaussian of the beat period
    window = np.exp(-0.5 * (np.arange(-fpb, fpb + 1) * 32.0 / fpb) ** 2)
    n = len(onsets)
    local = _local_score(onsets.astype(dtype), window)
    tightness = 100.0
    thresh = 0.01 * local.max()
    hi_off, lo_off = int(np.round(fpb / 2)), int(2 * fpb + 1)
    log_fpb = float(np.log(fpb))
    # Penalty of each lag (hi_off, hi_off + 1, ..., lo_off - 1), in search order.
    lags = np.arange(hi_off, lo_off)
    penalty = tightness * (np.log(lags.astype(np.float64)) - log_fpb) ** 2
    cumscore, loc = _beat_dp(local.astype(dtype), penalty, hi_off)
    # backlinks: none before the first frame whose local score reaches the threshold
    reached = np.flatnonzero(local >= thresh)
    backlink = loc.copy()
    backlink[: reached[0] if reached.size else n] = -1
    # last beat: the last local maximum of the cumulative score above half their median
    left = np.concatenate([cumscore[:1], cumscore[:-1]])
    right = np.concatenate([cumscore[1:], cumscore[-1:]])
    peaks = (cumscore > left) & (cumscore >= right)
    threshold = 0.5 * float(np.median(cumscore[peaks])) if peaks.any() else 0.0
    tail = n - 1
    for j in range(n - 1, -1, -1):
        if peaks[j] and cumscore[j] >= threshold:
            tail = j
            break
    beats = np.zeros(n, dtype=bool)
    j = tail
    while j >= 0:
        beats[j] = True
        j = int(backlink[j])
    # trim weak leading and trailing frames (as librosa's __trim_beats)
    w = np.array([0.0, 0.5, 1.0, 0.5, 0.0])  # np.hanning(5)
    smooth = np.convolve(local[beats], w)[len(w) // 2 : n + len(w) // 2]
    cut = 0.5 * float(np.sqrt((smooth**2).mean())) if len(smooth) else 0.0
    j = 0
    while j < n and local[j] <= cut:
        beats[j] = False
        j += 1
    j = n - 1
    while j >= 0 and local[j] <= cut:
        beats[j] = False
        j -= 1
    return np.flatnonzero(beats)


def tempo(*, onset_envelope: np.ndarray, sr: float = 22050, hop_length: int = 512) -> np.ndarray:
    """Global tempo in BPM (``librosa.feature.tempo(onset_envelope=...)``, 8 s windows).

    Computed with :class:`Tempogram` (columns in chunks, memory independent of the length).

    Parameters
    ----------
    onset_envelope : np.ndarray, shape (n,)

    Returns
    -------
    np.ndarray, shape (1,), float64 (as librosa)
    """
    tg = Tempogram(int(sr), hop_length)
    tg.feed(np.asarray(onset_envelope))
    return np.array([tg.tempo()])


def beat_track(
    *,
    onset_envelope: np.ndarray,
    sr: float = 22050,
    hop_length: int = 512,
    bpm: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Dynamic-programming beat tracker (``librosa.beat.beat_track(onset_envelope=...)``).

    A numpy port of librosa 0.11's tracker (Ellis 2007; tightness 100, ``trim=True``,
    ``units="frames"``), which librosa compiles with numba at import time.

    Parameters
    ----------
    onset_envelope : np.ndarray, shape (n,)
    bpm
        Tempo to track; None: :func:`tempo` of the envelope.

    Returns
    -------
    tempo : np.ndarray, shape (1,)
        ``bpm``, or the estimate; 0 for an all-zero envelope.
    beats : np.ndarray of int, shape (n_beats,)
        Beat frames; none for an all-zero envelope.
    """
    env = np.asarray(onset_envelope)
    if not env.any():  # as librosa: no onsets, tempo 0 (whatever ``bpm``)
        return np.zeros(1), np.zeros(0, dtype=int)
    if bpm is None:
        bpm = tempo(onset_envelope=env, sr=sr, hop_length=hop_length)
    bpm_arr = np.atleast_1d(np.asarray(bpm, dtype=np.float64))
    return bpm_arr, _beat_frames(env, int(sr), hop_length, float(bpm_arr[0]))
