"""The preprocessing steps: small pure functions ``(y, sr) -> (y, sr)``.

Every step takes and returns ``y`` of shape ``(channels, n)`` float32 (mono is
``(1, n)``) and the sample rate, and never modifies its input array. Steps
that cut or analyse frames (trim, remove-silence, denoise) use frames of
about 46 ms (2048 samples at 22.05/44.1 kHz, 1024 at 16 kHz, 512 at 8 kHz)
with a hop of a quarter frame, as librosa's defaults do at 22.05 kHz.

The blockable steps (channels, resample, filters, pre-emphasis, gain) are the
block processors of :mod:`audiokit.preprocess.blocks` fed the whole signal as
one block: the in-memory and the streaming path run the same code, so a
file's output never depends on which path processed it.

librosa and scipy are imported by the steps that use them: importing them
costs seconds, which a plan without those steps does not pay.
"""

from __future__ import annotations

import math

import numpy as np

from audiokit.errors import InputError, UsageError
from audiokit.preprocess import blocks

#: Fraction of the quietest STFT frames that make the noise profile of --denoise.
NOISE_FRACTION = 0.10
#: Threshold of --denoise: mean + K * std of the noise profile (dB, per bin).
NOISE_STD_K = 1.5


def frame_length(sr: int) -> int:
    """Frame length (a power of two near 46 ms) used by trim, split and denoise."""
    return int(2 ** round(math.log2(max(sr * 0.0464, 16))))


def _f32(y: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(y, dtype=np.float32)


def select_channels(
    y: np.ndarray, sr: int, mono: bool = False, channel: int | None = None
) -> tuple[np.ndarray, int]:
    """Mix to mono (average) or keep one channel (0 = first/left).

    Returns
    -------
    y : np.ndarray, shape (1, n) or unchanged
    sr : int

    Raises
    ------
    InputError
        There is no such channel.
    """
    return blocks.whole(blocks.Channels(y.shape[0], mono, channel), y), sr


def resample(y: np.ndarray, sr: int, target_sr: int) -> tuple[np.ndarray, int]:
    """soxr HQ resampling; the output has ``ceil(n * target_sr / sr)`` samples."""
    if target_sr == sr:
        return y, sr
    return blocks.whole(blocks.Resample(y.shape[0], sr, target_sr), y), target_sr


def _voiced_intervals(y: np.ndarray, sr: int, top_db: float) -> np.ndarray:
    import librosa

    if not np.any(y):  # digital silence: librosa would call it all voiced (0 dB below 0)
        return np.zeros((0, 2), dtype=int)
    n_fft = frame_length(sr)
    return librosa.effects.split(y, top_db=top_db, frame_length=n_fft, hop_length=n_fft // 4)


def _margin(sr: int, pad_ms: float) -> int:
    return int(round(pad_ms * sr / 1000))


def trim(
    y: np.ndarray, sr: int, top_db: float = 60.0, pad_ms: float = 0.0
) -> tuple[np.ndarray, int]:
    """Cut leading and trailing silence, keeping ``pad_ms`` of margin on each side.

    Silence is what :func:`librosa.effects.trim` calls silence: frames more
    than ``top_db`` below the loudest frame (RMS).

    Raises
    ------
    InputError
        The whole signal is silent.
    """
    iv = _voiced_intervals(y, sr, top_db)
    if len(iv) == 0:
        raise InputError(f"entirely silent at --top-db {top_db:g}: nothing left to keep")
    pad = _margin(sr, pad_ms)
    start = max(0, int(iv[0][0]) - pad)
    end = min(y.shape[-1], int(iv[-1][1]) + pad)
    return _f32(y[:, start:end]), sr


def voiced_spans(y: np.ndarray, sr: int, top_db: float, pad_ms: float) -> list[tuple[int, int]]:
    """Voiced sample spans ``[start, end)`` widened by ``pad_ms`` and merged where they touch."""
    pad = _margin(sr, pad_ms)
    n = y.shape[-1]
    spans: list[tuple[int, int]] = []
    for a, b in _voiced_intervals(y, sr, top_db):
        s, e = max(0, int(a) - pad), min(n, int(b) + pad)
        if spans and s <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(e, spans[-1][1]))
        else:
            spans.append((s, e))
    return spans


def remove_silence(
    y: np.ndarray, sr: int, top_db: float = 60.0, pad_ms: float = 0.0
) -> tuple[np.ndarray, int]:
    """Drop every silent stretch (as :func:`librosa.effects.split` finds them), keeping margins.

    Raises
    ------
    InputError
        The whole signal is silent.
    """
    spans = voiced_spans(y, sr, top_db, pad_ms)
    if not spans:
        raise InputError(f"entirely silent at --top-db {top_db:g}: nothing left to keep")
    return _f32(np.concatenate([y[:, s:e] for s, e in spans], axis=-1)), sr


def denoise(y: np.ndarray, sr: int, strength: float = 0.8) -> tuple[np.ndarray, int]:
    """Spectral gating with a noise profile from the quietest frames.

    Per channel: STFT (Hann, ~46 ms, hop 1/4); the quietest 10 % of frames
    (by energy) give each frequency bin a noise level (mean and standard
    deviation in dB); bins more than mean + 1.5 std above it are kept, the
    rest attenuated. The 0/1 mask is smoothed over 3 bins x 5 frames, and the
    gain is ``1 - strength * (1 - mask)`` (strength 1: gated bins removed,
    0: no change). The inverse STFT keeps the length.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n)
    sr : int
    strength : float in [0, 1]
    """
    import librosa
    from scipy.ndimage import uniform_filter

    if not 0.0 <= strength <= 1.0:
        raise UsageError("--denoise-strength must be between 0 and 1")
    n = y.shape[-1]
    n_fft = frame_length(sr)
    if n < n_fft:
        return y, sr
    hop = n_fft // 4
    out = np.empty_like(y)
    for c in range(y.shape[0]):
        spec = librosa.stft(y[c], n_fft=n_fft, hop_length=hop)
        mag = np.abs(spec)
        energy = np.mean(mag**2, axis=0)
        k = max(1, int(math.ceil(NOISE_FRACTION * mag.shape[1])))
        quiet = np.argsort(energy, kind="stable")[:k]
        mag_db = 20 * np.log10(mag + 1e-10)
        noise = mag_db[:, quiet]
        thresh = noise.mean(axis=1, keepdims=True) + NOISE_STD_K * noise.std(axis=1, keepdims=True)
        mask = uniform_filter((mag_db > thresh).astype(np.float32), size=(3, 5), mode="nearest")
        gain = 1.0 - strength * (1.0 - mask)
        out[c] = librosa.istft(spec * gain, hop_length=hop, n_fft=n_fft, length=n)
    return out, sr


def highpass(y: np.ndarray, sr: int, hz: float) -> tuple[np.ndarray, int]:
    """Causal 4th-order Butterworth high-pass at ``hz``."""
    return blocks.whole(blocks.SosFilter(y.shape[0], "highpass", hz, sr), y), sr


def lowpass(y: np.ndarray, sr: int, hz: float) -> tuple[np.ndarray, int]:
    """Causal 4th-order Butterworth low-pass at ``hz``."""
    return blocks.whole(blocks.SosFilter(y.shape[0], "lowpass", hz, sr), y), sr


def preemphasis(y: np.ndarray, sr: int, coef: float = 0.97) -> tuple[np.ndarray, int]:
    """``y[n] - coef * y[n-1]``, the first sample as :func:`librosa.effects.preemphasis`.

    That is ``y[0] + 2*y[0] - y[1]`` (librosa's default filter state); see
    :func:`audiokit.dsp.effects.preemphasis`.
    """
    return blocks.whole(blocks.Preemphasis(y.shape[0], coef), y), sr


def gain(y: np.ndarray, sr: int, db: float) -> tuple[np.ndarray, int]:
    """Multiply by ``10^(db/20)``."""
    return blocks.whole(blocks.Gain(y.shape[0], db), y), sr


def n_samples(seconds: float, sr: int) -> int:
    """Samples in ``seconds`` at ``sr`` (rounded to the nearest)."""
    return int(round(seconds * sr))


def pad_to(y: np.ndarray, sr: int, seconds: float) -> tuple[np.ndarray, int]:
    """Append zeros up to exactly ``round(seconds * sr)`` samples (longer signals unchanged)."""
    n = n_samples(seconds, sr)
    if y.shape[-1] >= n:
        return y, sr
    return np.pad(y, ((0, 0), (0, n - y.shape[-1]))).astype(np.float32), sr


def trim_to(y: np.ndarray, sr: int, seconds: float) -> tuple[np.ndarray, int]:
    """Keep the first ``round(seconds * sr)`` samples (shorter signals unchanged)."""
    return y[:, : n_samples(seconds, sr)], sr


def segment_bounds(n: int, size: int, hop: int) -> list[tuple[int, int]]:
    """``[start, end)`` of each segment of ``size`` samples every ``hop`` samples.

    A new segment starts only while it brings samples the previous one did
    not hold; the last one may be shorter. A signal shorter than one segment
    gives one (short) segment.
    """
    count = 1 + max(0, math.ceil((n - size) / hop)) if n > 0 else 0
    return [(k * hop, min(n, k * hop + size)) for k in range(count)]


def segment(y: np.ndarray, sr: int, seconds: float, overlap: float = 0.0) -> list[np.ndarray]:
    """Cut into chunks of ``seconds`` (consecutive chunks share ``overlap`` seconds).

    Returns
    -------
    list of np.ndarray, each (channels, m)
        All chunks are ``round(seconds * sr)`` long but the last, which holds
        what remains (use ``--chain ...,segment,pad-to`` to pad it).
    """
    size, hop = segment_sizes(seconds, overlap, sr)
    return [y[:, s:e] for s, e in segment_bounds(y.shape[-1], size, hop)]


def segment_sizes(seconds: float, overlap: float, sr: int) -> tuple[int, int]:
    """(segment length, hop) in samples; raises UsageError when the hop is not positive."""
    size = n_samples(seconds, sr)
    hop = size - n_samples(overlap, sr)
    if size <= 0 or hop <= 0:
        raise UsageError("--segment must be positive and longer than --overlap")
    return size, hop


def fade_curve(length: int) -> np.ndarray:
    """Raised-cosine (half-Hann) fade-in ramp of ``length`` samples, 0 -> 1 (exclusive)."""
    return (0.5 - 0.5 * np.cos(np.pi * np.arange(length) / length)).astype(np.float32)


def fade(y: np.ndarray, sr: int, ms: float) -> tuple[np.ndarray, int]:
    """Raised-cosine fade-in and fade-out of ``ms`` each (at most half the signal each)."""
    length = min(_margin(sr, ms), y.shape[-1] // 2)
    if length <= 0:
        return y, sr
    out = y.copy()
    ramp = fade_curve(length)
    out[:, :length] *= ramp
    out[:, -length:] *= ramp[::-1]
    return out, sr
