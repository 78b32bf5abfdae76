"""Tempo and beats from an onset envelope, in bounded memory.

librosa's ``tempo`` builds a tempogram with one 8-second autocorrelation
column per frame (344 values per frame at 22050 Hz / 512): for a 3-hour file
that is ~700 MB. Here the columns are computed in chunks and averaged as they
go, giving librosa's result (same windowing, padding, normalisation, prior)
with memory independent of the duration.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Tempogram columns computed at once.
CHUNK = 4096
START_BPM = 120.0
MAX_TEMPO = 320.0


def tempo_win_length(sr: int, hop_length: int) -> int:
    """librosa's tempogram window: 8 seconds of frames."""
    return int(8.0 * sr) // hop_length


def _prior(bpms: np.ndarray) -> np.ndarray:
    """librosa's default tempo prior: log-normal around 120 BPM, nothing above 320 BPM."""
    import numpy as np

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
        import librosa
        import numpy as np

        self.sr, self.hop = sr, hop_length
        self.win = tempo_win_length(sr, hop_length)
        self.window = librosa.filters.get_window("hann", self.win, fftbins=True)
        self.parts: list[np.ndarray] = []
        self.env = np.zeros(0, np.float32)
        self.total = np.zeros(self.win)
        self.done = 0  # columns summed into ``total``

    def feed(self, part: np.ndarray) -> None:
        """Append envelope frames and sum the columns that are now complete."""
        self.parts.append(part)
        self._advance(final=False)

    def _padded(self) -> np.ndarray:
        import numpy as np

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
        """Sum of the tempogram columns of frames ``t0 <= t < t1``, shape (win,)."""
        import librosa
        import numpy as np

        total = np.zeros(self.win)
        for a in range(t0, t1, CHUNK):
            b = min(t1, a + CHUNK)
            view = np.lib.stride_tricks.sliding_window_view(padded, self.win)[a:b].T
            ac = librosa.autocorrelate(view * self.window[:, None], axis=-2)
            total += librosa.util.normalize(ac, norm=np.inf, axis=-2).sum(axis=1)
        return total

    def tempo(self, t0: int = 0, t1: int | None = None) -> float:
        """Tempo (BPM) of frames ``t0..t1``, as ``librosa.feature.tempo`` (prior at 120 BPM)."""
        import librosa
        import numpy as np

        self._advance(final=True)
        n = len(self.env)
        t1 = n if t1 is None else t1
        if (t0, t1) == (0, n):
            tg = self.total / max(n, 1)
        else:
            tg = self._columns(self._padded(), t0, t1) / max(t1 - t0, 1)
        bpms = librosa.tempo_frequencies(self.win, hop_length=self.hop, sr=self.sr)
        return float(bpms[int(np.argmax(np.log1p(1e6 * tg) + _prior(bpms)))])


def beat_frames(env: np.ndarray, sr: int, hop_length: int, bpm: float) -> np.ndarray:
    """Beat frames from librosa's dynamic-programming tracker at tempo ``bpm`` (trimmed)."""
    import librosa
    import numpy as np

    if len(env) < 2 or not np.any(env):
        return np.zeros(0, dtype=int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, beats = librosa.beat.beat_track(
            onset_envelope=env, sr=sr, hop_length=hop_length, bpm=bpm, units="frames"
        )
    return np.asarray(beats, dtype=int)
