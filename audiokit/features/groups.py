"""Frame-level feature groups computed over one shared spectrogram.

:func:`compute_block` takes a stretch of mono audio, computes **one** STFT,
and derives every STFT-based feature from it the way librosa does when given
``S=``: magnitude for centroid, bandwidth, rolloff, contrast and flatness;
power for the mel spectrogram and chroma; the mel dB spectrogram for MFCC and
onset strength (and the median onset envelope that tempo and beats use).
Zero-crossing rate and RMS read the samples (they are defined on them). The
default groups use the numpy ports in :mod:`audiokit.dsp`, so they
never import librosa; the opt-in CQT groups (CENS, tonnetz share one CQT),
HPSS and pYIN call librosa.

Departures from librosa's defaults, all so that a frame's value depends on
its neighbourhood only (blocks, windows and whole files agree):

- dB values (mel, MFCC, spectral contrast, onset strength) have a fixed floor
  of -100 dB (``amin=1e-10``) instead of ``top_db=80`` below the loudest frame;
- chroma (STFT and CQT) uses A440 tuning instead of estimating it per input.

Frames are centred at multiples of ``hop_length`` (``center=True``), so a
block of a long file gives exactly the frames of the whole-file computation
as long as it carries enough context (see :func:`context_frames`).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audiokit.features.schema import AMIN, CONTRAST_BANDS, F0_MAX, F0_MIN, FeatureParams

if TYPE_CHECKING:
    import numpy as np

#: Lowest CQT frequency (C1) and resolution of the CQT-based groups (librosa's defaults).
CQT_FMIN = 32.70319566257483
CQT_BINS_PER_OCTAVE = 36
CQT_OCTAVES = 7
#: Time half-width of librosa's HPSS median filter (kernel 31).
HPSS_KERNEL = 31
#: Context (frames) given to CQT and pYIN blocks: long filters, smoothing, Viterbi.
LONG_CONTEXT = 128


@dataclass
class BlockFeatures:
    """Features of a run of frames.

    Attributes
    ----------
    values : np.ndarray, shape (n_columns, n_frames), float32
        Frame-level feature columns in :func:`schema.frame_columns` order.
    tempo_env : np.ndarray, shape (n_frames,) or None
        Median-aggregated onset envelope (what librosa's beat tracker uses).
    tempogram : np.ndarray, shape (win,) or None
        Sum of the tempogram columns of these frames.
    harmonic, percussive : np.ndarray, shape (n_frames,) or None
        Energy per frame of the HPSS harmonic and percussive parts.
    voiced : np.ndarray, shape (n_frames,), bool, or None
        pYIN voicing decision per frame.
    """

    values: np.ndarray
    tempo_env: np.ndarray | None = None
    tempogram: np.ndarray | None = None
    harmonic: np.ndarray | None = None
    percussive: np.ndarray | None = None
    voiced: np.ndarray | None = None


def context_frames(p: FeatureParams, sr: int) -> int:
    """Frames of context a block needs on each side for exact (or near-exact) results."""
    from audiokit.features.rhythm import tempo_win_length

    shift = 1 + p.n_fft // (2 * p.hop_length)  # onset strength: lag 1 + framing offset
    c = max(4, shift + 1)  # delta width 9 looks 4 frames each way
    if "tempo" in p.groups:  # 8-second tempogram windows centred on each frame
        win = tempo_win_length(sr, p.hop_length)
        c = max(c, win - win // 2 + shift + 1)
    if "hpss" in p.groups:
        c = max(c, HPSS_KERNEL // 2 + 1)
    if {"cens", "tonnetz", "f0"} & set(p.groups):
        c = max(c, LONG_CONTEXT)
    return c


def delta_width(n_frames: int) -> int:
    """Delta window: 9, shrunk to the largest odd width <= n_frames; 0 below 3 frames."""
    if n_frames < 3:
        return 0
    w = min(9, n_frames)
    return w if w % 2 else w - 1


def n_frames_for(n_samples: int, p: FeatureParams) -> int:
    """Frames of a centred STFT of ``n_samples`` samples (as librosa counts them)."""
    return 1 + (n_samples + 2 * (p.n_fft // 2) - p.n_fft) // p.hop_length


def cqt_octaves(sr: int) -> int:
    """Octaves of the CQT from C1 that fit under the Nyquist frequency (at most 7)."""
    return max(1, min(CQT_OCTAVES, int(math.floor(math.log2(sr / 2 / CQT_FMIN / 1.06)))))


def contrast_bands(sr: int) -> int:
    """Spectral-contrast bands (librosa: octaves from 200 Hz) that fit under Nyquist."""
    n = CONTRAST_BANDS
    while n > 1 and 200.0 * 2 ** (n - 1) >= sr / 2:
        n -= 1
    return n


@functools.lru_cache(maxsize=16)
def fft_freqs(sr: int, n_fft: int) -> np.ndarray:
    import numpy as np

    return np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)


@functools.lru_cache(maxsize=16)
def _moment_matrix(sr: int, n_fft: int) -> np.ndarray:
    import numpy as np

    f = np.fft.rfftfreq(n_fft, 1.0 / sr)
    return np.stack([np.ones_like(f), f, f**2])


def _normalize(x: np.ndarray, order: float) -> np.ndarray:
    """librosa.util.normalize along axis 0 (columns below ``tiny`` are left as they are)."""
    import numpy as np

    if order == np.inf:
        length = np.abs(x).max(axis=0)
    else:
        length = np.abs(x).sum(axis=0)
    tiny = np.finfo(x.dtype).tiny
    length = np.where(length < tiny, 1.0, length).astype(x.dtype)
    return x / length


def spectral_shape(S: np.ndarray, sr: int, n_fft: int) -> tuple[np.ndarray, ...]:
    """Centroid, bandwidth, 85 % rolloff (Hz) and flatness of magnitude frames.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, n), float32
        Magnitude spectrogram.

    Returns
    -------
    centroid, bandwidth, rolloff, flatness : np.ndarray, shape (n,)
        As librosa's ``spectral_*`` functions with ``S=`` (all-zero frames give 0, 0, 0, 1).
    """
    import numpy as np

    freq = fft_freqs(sr, n_fft)
    # Moments of each frame in float64 (one matrix product): centroid and variance.
    moments = _moment_matrix(sr, n_fft) @ S.astype(np.float64)
    total = moments[0]
    tiny = np.finfo(np.float32).tiny
    norm = np.where(total < tiny, 1.0, total)
    centroid = moments[1] / norm
    var = moments[2] / norm - 2 * centroid * moments[1] / norm + centroid**2 * total / norm
    bandwidth = np.sqrt(np.maximum(var, 0.0))
    cum = np.cumsum(S, axis=0)
    rolloff = freq[np.argmax(cum >= 0.85 * cum[-1], axis=0)]
    del cum
    power = np.maximum(np.float32(AMIN), S * S)
    flatness = np.exp(np.mean(np.log(power), axis=0)) / np.mean(power, axis=0)
    centroid, bandwidth = centroid.astype(np.float32), bandwidth.astype(np.float32)
    return centroid, bandwidth, rolloff, flatness.astype(np.float32)


def spectral_contrast(S: np.ndarray, sr: int, n_fft: int, n_bands: int) -> np.ndarray:
    """Spectral contrast in dB, as librosa's (``fmin=200``, ``quantile=0.02``) but frame-local.

    librosa converts peaks and valleys with ``power_to_db(top_db=80)``, whose floor
    depends on the loudest frame of the whole input; here the floor is the fixed
    ``amin`` (-100 dB), so blocks and windows of a file agree with the whole file.
    Where the file's dynamic range is under 80 dB the two are identical.

    Parameters
    ----------
    S : np.ndarray, shape (1 + n_fft // 2, n)
        Magnitude spectrogram.

    Returns
    -------
    np.ndarray, shape (n_bands + 1, n), float32
    """
    import numpy as np

    freq = np.fft.rfftfreq(n_fft, 1.0 / sr)
    octa = np.zeros(n_bands + 2)
    octa[1:] = 200.0 * (2.0 ** np.arange(0, n_bands + 1))
    out = np.zeros((n_bands + 1, S.shape[1]))
    for k, (f_low, f_high) in enumerate(itertools.pairwise(octa)):
        band = np.logical_and(freq >= f_low, freq <= f_high)
        idx = np.flatnonzero(band)
        if k > 0:
            band[idx[0] - 1] = True
        if k == n_bands:
            band[idx[-1] + 1 :] = True
        sub = S[band, :]
        if k < n_bands:
            sub = sub[:-1, :]
        q = max(int(np.rint(0.02 * np.sum(band))), 1)
        srt = np.sort(sub, axis=0)
        valley = np.mean(srt[:q], axis=0, dtype=np.float64)
        peak = np.mean(srt[-q:], axis=0, dtype=np.float64)
        out[k] = 10.0 * (np.log10(np.maximum(AMIN, peak)) - np.log10(np.maximum(AMIN, valley)))
    return out.astype(np.float32)


def onset_envelope(mel_db: np.ndarray, p: FeatureParams, median: bool = False) -> np.ndarray:
    """Onset strength from a mel dB spectrogram, as ``librosa.onset.onset_strength(S=...)``.

    Parameters
    ----------
    mel_db : np.ndarray, shape (n_mels, n)
    median
        Aggregate the bands with the median (librosa's beat tracker) instead of the mean.

    Returns
    -------
    np.ndarray, shape (n,), float32
    """
    import numpy as np

    n = mel_db.shape[1]
    flux = np.maximum(0.0, mel_db[:, 1:] - mel_db[:, :-1])
    agg = np.median(flux, axis=0) if median else flux.mean(axis=0)
    shift = 1 + p.n_fft // (2 * p.hop_length)
    env = np.zeros(n, dtype=np.float32)
    if n > shift:
        env[shift:] = agg[: n - shift]
    return env


def compute_block(
    y: np.ndarray,
    sr: int,
    p: FeatureParams,
    ext: tuple[int, int],
    core: tuple[int, int],
    width: int,
    edges: tuple[bool, bool] = (True, True),
) -> BlockFeatures:
    """Compute the selected frame-level features of one stretch of audio.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
        Mono samples; its frames are centred at ``k * hop_length`` (k = 0, 1, ...).
    sr : int
        Sample rate.
    p : FeatureParams
    ext : (int, int)
        Frames that are exact (their window lies inside ``y`` or reaches a real
        edge of the file); features with temporal context use them.
    core : (int, int)
        Frames to return (inside ``ext``, at least :func:`context_frames` from its
        ends unless those ends are the file's).
    width : int
        Delta window for the file (:func:`delta_width`); 0 gives NaN deltas.
    edges : (bool, bool)
        Whether ``ext`` starts at the file's first frame / ends at its last.

    Returns
    -------
    BlockFeatures
    """
    import numpy as np

    from audiokit import dsp

    g = set(p.groups)
    e0, e1 = ext
    c0, c1 = core
    a, b = c0 - e0, c1 - e0  # core inside ext
    out: list[np.ndarray] = []
    res = BlockFeatures(values=np.empty((0, c1 - c0), np.float32))
    D = dsp.stft(y, p.n_fft, p.hop_length)
    S_ext = np.abs(D[:, e0:e1])
    del D
    S = S_ext[:, a:b]
    need_mel = bool(g & {"mfcc", "mel", "onset", "tempo"})
    mel_db = None
    if need_mel or "chroma" in g:
        P_ext = S_ext**2
    if need_mel:
        mel = dsp.mel_filters(sr, p.n_fft, p.n_mels, p.fmin, p.fmax) @ P_ext
        mel_db = 10.0 * np.log10(np.maximum(AMIN, mel))
        del mel
    for group in p.groups:
        if group == "mfcc":
            assert mel_db is not None
            basis = dsp.dct_matrix(p.n_mfcc, mel_db.shape[0]).astype(mel_db.dtype)
            mfcc = basis @ mel_db  # librosa: scipy.fft.dct(type=2, norm="ortho")[:n_mfcc]
            out.append(mfcc[:, a:b])
            for order in (1, 2):
                if width >= 3 and mfcc.shape[1] >= width:
                    out.append(dsp.delta(mfcc, width, order)[:, a:b])
                else:
                    out.append(np.full((p.n_mfcc, b - a), np.nan, np.float32))
        elif group == "mel":
            assert mel_db is not None
            out.append(mel_db[:, a:b])
        elif group == "spectral":
            cen, bw, roll, flat = spectral_shape(S, sr, p.n_fft)
            nb = contrast_bands(sr)
            contrast = np.full((CONTRAST_BANDS + 1, b - a), np.nan, np.float32)
            contrast[: nb + 1] = spectral_contrast(S, sr, p.n_fft, nb)
            out += [cen[None], bw[None], roll[None], contrast, flat[None]]
        elif group == "zcr":
            out.append(dsp.zero_crossing_rate(y, p.n_fft, p.hop_length)[None, c0:c1])
        elif group == "rms":
            out.append(dsp.rms(y, p.n_fft, p.hop_length)[None, c0:c1])
        elif group == "chroma":
            chroma = _normalize(dsp.chroma_filters(sr, p.n_fft) @ P_ext[:, a:b], np.inf)
            out.append(chroma)
        elif group == "onset":
            assert mel_db is not None
            out.append(onset_envelope(mel_db, p)[None, a:b])
        elif group == "tempo":
            assert mel_db is not None
            from audiokit.features.rhythm import block_column_sum

            env = onset_envelope(mel_db, p, median=True)
            res.tempo_env = env[a:b]
            res.tempogram = block_column_sum(env, (a, b), edges, sr, p.hop_length)
        elif group == "hpss":
            import librosa

            H, Pc = librosa.decompose.hpss(S_ext, kernel_size=HPSS_KERNEL)
            res.harmonic = (H[:, a:b] ** 2).sum(axis=0)
            res.percussive = (Pc[:, a:b] ** 2).sum(axis=0)
        elif group == "f0":
            f0, voiced, prob = _pyin(y, sr, p)
            out += [f0[None, c0:c1], prob[None, c0:c1]]
            res.voiced = voiced[c0:c1]
    if g & {"cens", "tonnetz"}:
        cens, tonnetz = _cqt_groups(y, sr, p)
        # Insert the CQT groups at their place in column order.
        out = _insert_cqt(
            out,
            p,
            cens[:, c0:c1] if cens is not None else None,
            tonnetz[:, c0:c1] if tonnetz is not None else None,
        )
    res.values = np.ascontiguousarray(np.vstack(out), dtype=np.float32) if out else res.values
    return res


def _insert_cqt(
    out: list[np.ndarray], p: FeatureParams, cens: np.ndarray | None, tonnetz: np.ndarray | None
) -> list[np.ndarray]:
    """Put CENS and tonnetz arrays at their group's position in ``out``."""
    per_group = {
        "mfcc": 3,
        "mel": 1,
        "spectral": 5,
        "zcr": 1,
        "rms": 1,
        "chroma": 1,
        "onset": 1,
        "f0": 2,
    }
    result: list[np.ndarray] = []
    i = 0
    for group in p.groups:
        if group == "cens":
            assert cens is not None
            result.append(cens)
        elif group == "tonnetz":
            assert tonnetz is not None
            result.append(tonnetz)
        else:
            k = per_group.get(group, 0)
            result += out[i : i + k]
            i += k
    return result


def _cqt_groups(
    y: np.ndarray, sr: int, p: FeatureParams
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Chroma CENS and tonnetz from one constant-Q transform (A440, C1 upwards)."""
    import librosa
    import numpy as np

    n_oct = cqt_octaves(sr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short clips: filters longer than the signal
        C = np.abs(
            librosa.cqt(
                y,
                sr=sr,
                hop_length=p.hop_length,
                fmin=CQT_FMIN,
                n_bins=n_oct * CQT_BINS_PER_OCTAVE,
                bins_per_octave=CQT_BINS_PER_OCTAVE,
                tuning=0.0,
            )
        )
    cens = tonnetz = None
    kw: dict[str, Any] = {
        "C": C,
        "sr": sr,
        "hop_length": p.hop_length,
        "fmin": CQT_FMIN,
        "bins_per_octave": CQT_BINS_PER_OCTAVE,
        "n_octaves": n_oct,
        "tuning": 0.0,
    }
    if "cens" in p.groups:
        cens = librosa.feature.chroma_cens(**kw)
    if "tonnetz" in p.groups:
        tonnetz = librosa.feature.tonnetz(sr=sr, chroma=librosa.feature.chroma_cqt(**kw))
    return cens, tonnetz


def _pyin(y: np.ndarray, sr: int, p: FeatureParams) -> tuple[np.ndarray, ...]:
    """pYIN f0 (NaN when unvoiced), voicing flag and voicing probability per frame."""
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, prob = librosa.pyin(
            y,
            fmin=F0_MIN,
            fmax=min(F0_MAX, sr / 2 * 0.95),
            sr=sr,
            frame_length=max(p.n_fft, 2048),
            hop_length=p.hop_length,
            center=True,
        )
    return f0, voiced, prob
