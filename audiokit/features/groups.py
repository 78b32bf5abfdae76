"""The feature groups: one table, and the block computation that walks it.

:data:`FEATURE_GROUPS` holds every group once: its columns (from
:data:`schema.GROUP_COLUMNS`, the half the command line reads without numpy), the
function computing its frame values from a shared per-block context
(:class:`Block`: one STFT, its magnitude and power, the mel dB spectrogram, the CQT,
each computed once and only when a group asks), the context frames it needs, and
the reducer of its scalar columns. :func:`compute_block` walks the selected groups
in column order. The computations are the ports of :mod:`audiokit.dsp` (librosa's
functions given ``S=``); the opt-in CQT groups (CENS and tonnetz share one CQT), HPSS
and pYIN call librosa.

By default every value equals librosa's called on the whole signal the tutorials'
way (``mfcc(y=, sr=)``, ``chroma_stft(y=, sr=)``, ``power_to_db(melspectrogram(...))``):
dB values (mel, MFCC, spectral contrast, onset strength, tempo) are floored
``TOP_DB`` (80) below the file's maximum and chroma uses the file's estimated tuning.
Both depend on the whole file: a file of several blocks gets them from a first pass
(:func:`block_refs`, merged by :class:`audiokit.features.refs.RefAccumulator`).

``FeatureParams.frame_local`` makes a frame's value depend on its neighbourhood only
(blocks, segments and whole files agree, one pass): a fixed -100 dB floor
(``amin=1e-10``) and A440 chroma. The CQT groups (CENS, tonnetz) use A440 either way.

Frames are centred at multiples of ``hop_length`` (``center=True``), so a block of a
long file gives exactly the frames of the whole-file computation as long as it
carries enough context (see :func:`context_frames`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audiokit.dsp import beat, feature, onset, pitch, spectrum
from audiokit.features.kept import KeptFrames
from audiokit.features.refs import FileRefs, RefStats
from audiokit.features.scalars import HpssScalars, Reducer, TempoScalars, VoicedScalars
from audiokit.features.schema import (
    AMIN,
    CONTRAST_BANDS,
    F0_MAX,
    F0_MIN,
    GROUP_COLUMNS,
    GROUPS,
    TOP_DB,
    FeatureParams,
    GroupColumns,
)
from audiokit.features.spectra import (
    CQT_BINS_PER_OCTAVE,
    CQT_FMIN,
    CQT_OCTAVES,
    Block,
    contrast_bands,
    cqt_octaves,
    delta_width,
    n_frames_for,
    onset_shift,
)

__all__ = [
    "CQT_BINS_PER_OCTAVE",
    "CQT_FMIN",
    "CQT_OCTAVES",
    "FEATURE_GROUPS",
    "Block",
    "BlockFeatures",
    "block_refs",
    "compute_block",
    "context_frames",
    "delta_width",
    "n_frames_for",
    "reducers",
]

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
    hidden : dict of str to np.ndarray
        What the scalar reducers need, per group that has scalars: ``tempo_env``
        (n_frames,) and ``tempogram`` (win,) (the median onset envelope and the sum of
        its tempogram columns), ``harmonic``/``percussive`` (n_frames,) (HPSS energy per
        frame), ``voiced`` (n_frames,) bool (pYIN's decision).
    """

    values: np.ndarray
    hidden: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Part:
    """What one group computes for a block: frame rows (in column order) and hidden data.

    Each array of ``values`` has shape (dims, core frames).
    """

    values: list[np.ndarray] = field(default_factory=list)
    hidden: dict[str, np.ndarray] = field(default_factory=dict)


# --------------------------------------------------------------------------- computations


def _mfcc(blk: Block) -> Part:
    a, b, p = blk.a, blk.b, blk.p
    mfcc = feature.mfcc(S=blk.mel_db, n_mfcc=p.n_mfcc)
    part = Part([mfcc[:, a:b]])
    for order in (1, 2):
        if blk.width >= 3 and mfcc.shape[1] >= blk.width:
            part.values.append(feature.delta(data=mfcc, width=blk.width, order=order)[:, a:b])
        else:
            part.values.append(np.full((p.n_mfcc, b - a), np.nan, np.float32))
    return part


def _mel(blk: Block) -> Part:
    return Part([blk.mel_db[:, blk.a : blk.b]])


def _contrast_db(blk: Block) -> tuple[np.ndarray, np.ndarray]:
    """Spectral-contrast band peaks and valleys in dB (floor ``AMIN``), core frames."""
    if blk.kept is not None and "contrast_peak_db" in blk.kept:
        a, b = blk.core
        return blk.kept_frames("contrast_peak_db", a, b), blk.kept_frames(
            "contrast_valley_db", a, b
        )
    peak, valley = feature.contrast_peaks_valleys(
        S=blk.S, sr=blk.sr, n_fft=blk.p.n_fft, n_bands=contrast_bands(blk.sr)
    )
    return (
        spectrum.power_to_db(S=peak, amin=AMIN, top_db=None),
        spectrum.power_to_db(S=valley, amin=AMIN, top_db=None),
    )


def _floored(blk: Block, db: np.ndarray, name: str) -> np.ndarray:
    """``db`` floored ``TOP_DB`` below the file's maximum ``name`` (unless frame-local)."""
    if blk.p.frame_local:
        return db
    top = blk.file_value(name, lambda: float(db.max()) if db.size else 0.0)
    return np.maximum(db, top - TOP_DB)


def _spectral(blk: Block) -> Part:
    S, sr, n_fft, p = blk.S, blk.sr, blk.p.n_fft, blk.p
    centroid, bandwidth = feature.centroid_and_bandwidth(S=S, sr=sr, n_fft=n_fft)
    bandwidths = [
        bandwidth
        if q == 2
        else feature.bandwidth_order(S=S, centroid=centroid, sr=sr, n_fft=n_fft, p=q)
        for q in p.bandwidth_p
    ]
    rolloffs = [
        feature.spectral_rolloff(S=S, sr=sr, n_fft=n_fft, roll_percent=r) for r in p.roll_percent
    ]
    nb = contrast_bands(sr)
    contrast = np.full((CONTRAST_BANDS + 1, S.shape[1]), np.nan, np.float32)
    peak_db, valley_db = _contrast_db(blk)
    contrast[: nb + 1] = _floored(blk, peak_db, "contrast_peak_db_max") - _floored(
        blk, valley_db, "contrast_valley_db_max"
    )
    flatness = feature.spectral_flatness(S=S, amin=AMIN)
    return Part([centroid, *bandwidths, *rolloffs, contrast, flatness])


def _zcr(blk: Block) -> Part:
    p = blk.p
    zcr = feature.zero_crossing_rate(y=blk.y, frame_length=p.n_fft, hop_length=p.hop_length)
    return Part([blk.core_of(zcr)])


def _rms(blk: Block) -> Part:
    p = blk.p
    return Part([blk.core_of(feature.rms(y=blk.y, frame_length=p.n_fft, hop_length=p.hop_length))])


def _chroma(blk: Block) -> Part:
    P = blk.P_ext[:, blk.a : blk.b]
    n_chroma = blk.p.n_chroma
    tuning = 0.0
    if not blk.p.frame_local:
        tuning = blk.file_value(
            "tuning", lambda: pitch.estimate_tuning(S=P, sr=blk.sr, bins_per_octave=n_chroma)
        )
    return Part(
        [feature.chroma_stft(S=P, sr=blk.sr, n_fft=blk.p.n_fft, tuning=tuning, n_chroma=n_chroma)]
    )


def _cqt_kwargs(blk: Block) -> dict[str, Any]:
    return {
        "C": blk.cqt,
        "sr": blk.sr,
        "hop_length": blk.p.hop_length,
        "fmin": CQT_FMIN,
        "bins_per_octave": CQT_BINS_PER_OCTAVE,
        "n_octaves": cqt_octaves(blk.sr),
        "tuning": 0.0,
    }


def _cens(blk: Block) -> Part:
    import librosa

    cens = librosa.feature.chroma_cens(**_cqt_kwargs(blk), n_chroma=blk.p.n_chroma)
    return Part([blk.core_of(cens)])


def _tonnetz(blk: Block) -> Part:
    import librosa

    chroma = librosa.feature.chroma_cqt(**_cqt_kwargs(blk))
    return Part([blk.core_of(librosa.feature.tonnetz(sr=blk.sr, chroma=chroma))])


def _onset_env(blk: Block, aggregate: Callable[..., np.ndarray]) -> np.ndarray:
    p = blk.p
    return onset.onset_strength(
        S=blk.mel_db, aggregate=aggregate, n_fft=p.n_fft, hop_length=p.hop_length
    )


def _onset(blk: Block) -> Part:
    return Part([_onset_env(blk, np.mean)[None, blk.a : blk.b]])


def _tempo(blk: Block) -> Part:
    env = _onset_env(blk, np.median)
    tg = beat.block_column_sum(env, (blk.a, blk.b), blk.edges, blk.sr, blk.p.hop_length)
    return Part(hidden={"tempo_env": env[blk.a : blk.b], "tempogram": tg})


def _hpss(blk: Block) -> Part:
    import librosa

    H, Pc = librosa.decompose.hpss(blk.S_ext, kernel_size=HPSS_KERNEL)
    a, b = blk.a, blk.b
    return Part(
        hidden={
            "harmonic": (H[:, a:b] ** 2).sum(axis=0),
            "percussive": (Pc[:, a:b] ** 2).sum(axis=0),
        }
    )


def _f0(blk: Block) -> Part:
    import librosa

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f0, voiced, prob = librosa.pyin(
            blk.y,
            fmin=F0_MIN,
            fmax=min(F0_MAX, blk.sr / 2 * 0.95),
            sr=blk.sr,
            frame_length=max(blk.p.n_fft, 2048),
            hop_length=blk.p.hop_length,
            center=True,
        )
    return Part([blk.core_of(f0[None]), blk.core_of(prob[None])], {"voiced": blk.core_of(voiced)})


# --------------------------------------------------------------------------- the table


def _tempo_context(p: FeatureParams, sr: int) -> int:
    win = beat.tempo_win_length(sr, p.hop_length)  # 8-second windows centred on each frame
    return win - win // 2 + onset_shift(p) + 1


def _no_context(p: FeatureParams, sr: int) -> int:
    return 0


@dataclass(frozen=True)
class FeatureGroup:
    """One feature group: what it outputs, how it is computed, what it needs.

    Attributes
    ----------
    name : str
    columns : GroupColumns
        Help, frame features (names and dimensions), scalar columns, default, librosa
        (from :data:`schema.GROUP_COLUMNS`).
    compute : callable
        ``compute(block) -> Part``: the group's frame rows (its ``columns.frames`` in
        order, core frames) and hidden data for its reducer.
    context : callable
        ``context(params, sr) -> frames`` of context a block needs on each side, beyond
        the common minimum (deltas and onset flux).
    reducer : callable or None
        ``reducer(sr, params) -> Reducer`` of its scalar columns (``columns.scalars``).
    """

    name: str
    compute: Callable[[Block], Part]
    context: Callable[[FeatureParams, int], int] = _no_context
    reducer: Callable[[int, FeatureParams], Reducer] | None = None

    @property
    def columns(self) -> GroupColumns:
        return GROUP_COLUMNS[self.name]

    @property
    def librosa(self) -> bool:
        return self.columns.librosa


def _long(p: FeatureParams, sr: int) -> int:
    return LONG_CONTEXT


#: Every feature group, in column order (the keys of :data:`schema.GROUP_COLUMNS`).
FEATURE_GROUPS: dict[str, FeatureGroup] = {
    g.name: g
    for g in (
        FeatureGroup("mfcc", _mfcc),
        FeatureGroup("mel", _mel),
        FeatureGroup("spectral", _spectral),
        FeatureGroup("zcr", _zcr),
        FeatureGroup("rms", _rms),
        FeatureGroup("chroma", _chroma),
        FeatureGroup("cens", _cens, _long),
        FeatureGroup("tonnetz", _tonnetz, _long),
        FeatureGroup("onset", _onset),
        FeatureGroup("tempo", _tempo, _tempo_context, TempoScalars),
        FeatureGroup("hpss", _hpss, lambda p, sr: HPSS_KERNEL // 2 + 1, HpssScalars),
        FeatureGroup("f0", _f0, _long, VoicedScalars),
    )
}
if tuple(FEATURE_GROUPS) != GROUPS:  # pragma: no cover - a group added in one place only
    raise RuntimeError("FEATURE_GROUPS and schema.GROUP_COLUMNS must list the same groups")


def context_frames(p: FeatureParams, sr: int) -> int:
    """Frames of context a block needs on each side for exact (or near-exact) results."""
    c = max(4, onset_shift(p) + 1)  # delta width 9 looks 4 frames each way; onset flux
    return max([c] + [FEATURE_GROUPS[g].context(p, sr) for g in p.groups])


def reducers(p: FeatureParams, sr: int) -> dict[str, Reducer]:
    """A fresh reducer per selected group with scalar columns, in column order."""
    out: dict[str, Reducer] = {}
    for g in p.groups:
        make = FEATURE_GROUPS[g].reducer
        if make is not None:
            out[g] = make(sr, p)
    return out


#: Groups whose values go through the mel dB spectrogram / contrast dB / chroma tuning.
_MEL_DB_GROUPS = frozenset({"mfcc", "mel", "onset", "tempo"})


def needs_refs(p: FeatureParams) -> bool:
    """Whether ``p``'s values depend on whole-file references (:class:`FileRefs`)."""
    if p.frame_local:
        return False
    return bool(set(p.groups) & (_MEL_DB_GROUPS | {"spectral", "chroma"}))


def block_refs(
    y: np.ndarray,
    sr: int,
    p: FeatureParams,
    ext: tuple[int, int],
    core: tuple[int, int],
    kept: KeptFrames | None = None,
    frame0: int = 0,
) -> RefStats:
    """What the ``core`` frames of a block contribute to the file's :class:`FileRefs`.

    Parameters are those of :func:`compute_block`; only ``core`` frames are measured
    (each frame of a file is the core of exactly one block). With ``kept``, the core
    frames' spectra the second pass reads (:func:`kept.kept_shapes`) are stored in it.

    Returns
    -------
    RefStats
        The maxima (and pitched bins) the selected groups need; None for the others.
    """
    blk = Block(y, sr, p, ext, core, 0, (False, False))
    out = RefStats()
    a, b = blk.a, blk.b
    first = frame0 + core[0]
    if kept is not None and "S" in kept:
        kept.write("S", first, blk.S_ext[:, a:b])
    if set(p.groups) & _MEL_DB_GROUPS:
        mel = blk.mel_db_floor[:, a:b]
        out.mel_db_max = float(mel.max()) if mel.size else None
        if kept is not None:
            kept.write("mel_db_floor", first, mel)
    if "spectral" in p.groups:
        peak_db, valley_db = _contrast_db(blk)
        if kept is not None:
            kept.write("contrast_peak_db", first, peak_db)
            kept.write("contrast_valley_db", first, valley_db)
        if peak_db.size:
            out.contrast_peak_db_max = float(peak_db.max())
            out.contrast_valley_db_max = float(valley_db.max())
    if "chroma" in p.groups:
        est = pitch.TuningEstimate(sr=sr, bins_per_octave=p.n_chroma)
        out.pitched = est.pitched(S=blk.P_ext[:, blk.a : blk.b])
    return out


def compute_block(
    y: np.ndarray,
    sr: int,
    p: FeatureParams,
    ext: tuple[int, int],
    core: tuple[int, int],
    width: int,
    edges: tuple[bool, bool] = (True, True),
    refs: FileRefs | None = None,
    kept: KeptFrames | None = None,
    frame0: int = 0,
) -> BlockFeatures:
    """Compute the selected groups over one stretch of audio (see :class:`Block`).

    ``core`` must lie at least :func:`context_frames` inside ``ext`` unless those ends
    are the file's. ``refs``: the file's references (:func:`needs_refs`), required
    unless the block is the whole file. ``kept``: the first pass's spectra, read at
    ``frame0`` (the file's index of ``y``'s first frame) instead of computed.

    Returns
    -------
    BlockFeatures
    """
    blk = Block(y, sr, p, ext, core, width, edges, refs, kept, frame0)
    rows: list[np.ndarray] = []
    hidden: dict[str, np.ndarray] = {}
    for g in p.groups:
        part = FEATURE_GROUPS[g].compute(blk)
        rows += part.values
        hidden.update(part.hidden)
    if not rows:
        return BlockFeatures(np.empty((0, core[1] - core[0]), np.float32), hidden)
    return BlockFeatures(np.ascontiguousarray(np.vstack(rows), dtype=np.float32), hidden)
