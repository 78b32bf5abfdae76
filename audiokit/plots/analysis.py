"""What the analysis plots show: spectral curves, MFCC/chroma, onsets and beats.

Each function makes the librosa calls the tutorials make, through the ports of
:mod:`audiokit.dsp` (each tested equal to librosa), so that drawing them never imports
librosa; the chroma heatmap alone calls librosa, for its per-input tuning estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from audiokit.dsp import beat, feature, onset, spectrum
from audiokit.plots.spectra import StftParams

#: onset_strength's own STFT size (librosa's default), whatever the picture's.
ONSET_N_FFT = 2048


def minmax_normalise(x: np.ndarray) -> np.ndarray:
    """Scale to ``[0, 1]`` (as ``sklearn.preprocessing.minmax_scale``); constant -> zeros."""
    lo, hi = float(np.min(x)), float(np.max(x))
    return np.zeros_like(x) if hi <= lo else (x - lo) / (hi - lo)


def spectral_features(y: np.ndarray, sr: int, params: StftParams) -> dict[str, Any]:
    """Spectral centroid, rolloff (85 %) and bandwidth per frame, in Hz.

    As librosa's ``spectral_centroid``, ``spectral_rolloff`` and ``spectral_bandwidth``
    of ``|librosa.stft(y)|``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    dict with ``times`` (frames,) and ``centroid``, ``rolloff``, ``bandwidth`` (frames,),
    float32.
    """
    y = np.asarray(y, dtype=np.float32)
    n_fft = params.n_fft
    S = np.abs(spectrum.stft(y=y, n_fft=n_fft, hop_length=params.hop_length, window=params.window))
    centroid, bandwidth = feature.centroid_and_bandwidth(S=S, sr=sr, n_fft=n_fft)
    rolloff = feature.spectral_rolloff(S=S, sr=sr, n_fft=n_fft)
    times = np.arange(S.shape[-1]) * params.hop_length / sr
    return {
        "centroid": centroid[0].astype(np.float32),
        "rolloff": rolloff[0].astype(np.float32),
        "bandwidth": bandwidth[0].astype(np.float32),
        "times": times,
    }


def feature_matrix(
    y: np.ndarray,
    sr: int,
    which: str,
    stft: StftParams,
    n_mfcc: int = 20,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """MFCC (``librosa.feature.mfcc``, numpy only) or chroma (``librosa.feature.chroma_stft``).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    which : str
        ``mfcc`` or ``chroma``.

    Returns
    -------
    np.ndarray, shape (n_mfcc or 12, frames), float32
    """
    if which == "mfcc":
        return feature.mfcc(
            y=np.asarray(y, dtype=np.float32), sr=sr, n_mfcc=n_mfcc, n_fft=stft.n_fft,
            hop_length=stft.hop_length, window=stft.window, n_mels=n_mels, fmin=fmin,
            fmax=fmax,
        )  # fmt: skip
    import librosa  # chroma: librosa estimates the tuning of each input

    return librosa.feature.chroma_stft(
        y=y, sr=sr, n_fft=stft.n_fft, hop_length=stft.hop_length, window=stft.window
    )


def onset_events(y: np.ndarray, sr: int, hop_length: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Onsets and beats in seconds and the tempo in BPM, as librosa's detectors give them.

    ``librosa.onset.onset_detect(y=y, units="time")`` (mean onset strength of a
    128-band mel dB spectrogram, normalised, peak-picked) and
    ``librosa.beat.beat_track(y=y, units="time")`` (median onset strength, tempo from
    the autocorrelation tempogram, dynamic-programming tracker).

    Parameters
    ----------
    y : np.ndarray, shape (n,)

    Returns
    -------
    onsets : np.ndarray, shape (n_onsets,)
    beats : np.ndarray, shape (n_beats,)
    tempo : float
        0 when there is no onset at all (as librosa).
    """
    mel = feature.melspectrogram(
        y=np.asarray(y, dtype=np.float32), sr=sr, n_fft=ONSET_N_FFT, hop_length=hop_length
    )
    mel_db = spectrum.power_to_db(S=mel)
    kw: dict[str, Any] = {"S": mel_db, "n_fft": ONSET_N_FFT, "hop_length": hop_length}
    env = onset.onset_strength(aggregate=np.mean, **kw)
    onsets = onset.onset_detect(onset_envelope=env, sr=sr, hop_length=hop_length)
    env = onset.onset_strength(aggregate=np.median, **kw)
    if not env.any():
        return onsets * hop_length / sr, np.zeros(0), 0.0
    tempo, beats = beat.beat_track(onset_envelope=env, sr=sr, hop_length=hop_length)
    return onsets * hop_length / sr, beats * hop_length / sr, float(tempo[0])
