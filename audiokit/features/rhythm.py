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


class Tempogram:
    """Autocorrelation tempogram of one onset envelope, column ranges on demand.

    Parameters
    ----------
    env : np.ndarray, shape (n,)
        Onset envelope of the whole file (one value per frame).
    sr, hop_length : int
    """

    def __init__(self, env: np.ndarray, sr: int, hop_length: int) -> None:
        import librosa
        import numpy as np

        self.sr, self.hop = sr, hop_length
        self.win = tempo_win_length(sr, hop_length)
        self.n = len(env)
        half = self.win // 2
        self.padded = np.pad(env, (half, half), mode="linear_ramp", end_values=(0, 0))
        self.window = librosa.filters.get_window("hann", self.win, fftbins=True)

    def mean_column(self, t0: int, t1: int) -> np.ndarray:
        """Mean of the tempogram columns of frames ``t0 <= t < t1``, shape (win,)."""
        import librosa
        import numpy as np

        total = np.zeros(self.win)
        for a in range(t0, t1, CHUNK):
            b = min(t1, a + CHUNK)
            view = np.lib.stride_tricks.sliding_window_view(self.padded, self.win)[a:b].T
            ac = librosa.autocorrelate(view * self.window[:, None], axis=-2)
            total += librosa.util.normalize(ac, norm=np.inf, axis=-2).sum(axis=1)
        return total / max(t1 - t0, 1)

    def tempo(self, t0: int = 0, t1: int | None = None) -> float:
        """Tempo (BPM) of frames ``t0..t1``, as ``librosa.feature.tempo`` (prior at 120 BPM)."""
        import librosa
        import numpy as np

        t1 = self.n if t1 is None else t1
        tg = self.mean_column(t0, t1)
        bpms = librosa.tempo_frequencies(self.win, hop_length=self.hop, sr=self.sr)
        with np.errstate(divide="ignore", invalid="ignore"):
            logprior = -0.5 * ((np.log2(bpms) - np.log2(START_BPM)) / 1.0) ** 2
        logprior[: int(np.argmax(bpms < MAX_TEMPO))] = -np.inf
        return float(bpms[int(np.argmax(np.log1p(1e6 * tg) + logprior))])


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
