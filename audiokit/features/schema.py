"""Feature groups, parameters and column names of ``audiokit features``.

Everything that decides the *shape* of the output lives here, so that every
row of a table has the same columns whatever the file: the groups and their
columns (:data:`GROUP_COLUMNS`, the half of the feature-group table that needs
no numpy, for the command line's start-up; the compute half is
:data:`audiokit.features.groups.FEATURE_GROUPS`), the statistic names and the
column names built from them (``mfcc_00_mean``, ``spectral_centroid_std``...).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from audiokit.errors import UsageError

#: Bands of spectral contrast (librosa's default ``n_bands=6`` gives 7 rows).
CONTRAST_BANDS = 6
#: pYIN search range in Hz (C2 to C7, as in librosa's examples).
F0_MIN, F0_MAX = 65.40639132514966, 2093.004522404789
#: dB floor: power below ``AMIN`` is clipped (-100 dB).
AMIN = 1e-10
#: librosa's ``spectral_rolloff``, ``spectral_bandwidth`` and ``chroma_stft`` defaults.
DEFAULT_ROLL_PERCENT: tuple[float, ...] = (0.85,)
DEFAULT_BANDWIDTH_P: tuple[float, ...] = (2.0,)
DEFAULT_N_CHROMA = 12
#: librosa's ``power_to_db`` default: dB values are floored this far below the input's
#: maximum (not with ``frame_local``, where ``AMIN`` is the only floor).
TOP_DB = 80.0


@dataclass(frozen=True)
class GroupColumns:
    """What a feature group outputs, known without computing anything (no numpy needed).

    The half of a group's entry in :data:`audiokit.features.groups.FEATURE_GROUPS` that
    the command line needs at start-up: help, default selection and columns.

    Attributes
    ----------
    help : str
        One line for ``--help`` and the README.
    frames : callable
        ``frames(params) -> [(feature name, dimensions), ...]``: its frame-level
        features in column order (:func:`expand` names their columns).
    scalars : tuple of str
        Its per-file (or per-window) scalar columns.
    default : bool
        Computed when ``--features`` is not given.
    librosa : bool
        Computed by librosa (its numba kernels need a warm-up before forking).
    """

    help: str
    frames: Callable[[FeatureParams], list[tuple[str, int]]]
    scalars: tuple[str, ...] = ()
    default: bool = False
    librosa: bool = False


def _fixed(*features: tuple[str, int]) -> Callable[[FeatureParams], list[tuple[str, int]]]:
    return lambda p: list(features)


#: Every feature group, in output order (column order follows it).
GROUP_COLUMNS: dict[str, GroupColumns] = {
    "mfcc": GroupColumns(
        "MFCC (--n-mfcc) with delta and delta-delta",
        lambda p: [("mfcc", p.n_mfcc), ("mfcc_delta", p.n_mfcc), ("mfcc_delta2", p.n_mfcc)],
        default=True,
    ),
    "mel": GroupColumns(
        "mel band energies in dB (--n-mels)", lambda p: [("mel", p.n_mels)], default=True
    ),
    "spectral": GroupColumns(
        "spectral centroid, bandwidth (--bandwidth-p), rolloff (--roll-percent), "
        "contrast (7 bands), flatness",
        lambda p: [
            ("spectral_centroid", 1),
            *((name, 1) for name in bandwidth_names(p.bandwidth_p)),
            *((name, 1) for name in rolloff_names(p.roll_percent)),
            ("spectral_contrast", CONTRAST_BANDS + 1),
            ("spectral_flatness", 1),
        ],
        default=True,
    ),
    "zcr": GroupColumns("zero-crossing rate", _fixed(("zcr", 1)), default=True),
    "rms": GroupColumns("RMS energy", _fixed(("rms", 1)), default=True),
    "chroma": GroupColumns(
        "chroma from the STFT (--n-chroma pitch classes, tuning estimated per file)",
        lambda p: [("chroma", p.n_chroma)],
        default=True,
    ),
    "cens": GroupColumns(
        "chroma CENS (--n-chroma) from a constant-Q transform (opt-in, slower)",
        lambda p: [("chroma_cens", p.n_chroma)],
        librosa=True,
    ),
    "tonnetz": GroupColumns(
        "tonal centroid features (6) from CQT chroma (opt-in, slower)",
        _fixed(("tonnetz", 6)),
        librosa=True,
    ),
    "onset": GroupColumns(
        "onset strength (spectral flux of the mel dB spectrogram)",
        _fixed(("onset_strength", 1)),
        default=True,
    ),
    "tempo": GroupColumns(
        "tempo in BPM and beat count (per file or window)",
        _fixed(),
        scalars=("tempo", "beat_count"),
        default=True,
    ),
    "hpss": GroupColumns(
        "harmonic share of the energy after HPSS (opt-in, slow)",
        _fixed(),
        scalars=("hpss_ratio",),
        librosa=True,
    ),
    "f0": GroupColumns(
        "fundamental frequency (pYIN) and voicing, for speech (opt-in, slow)",
        _fixed(("f0", 1), ("voiced_prob", 1)),
        scalars=("voiced_fraction",),
        librosa=True,
    ),
}

#: Every feature group, in output order.
GROUPS: tuple[str, ...] = tuple(GROUP_COLUMNS)
#: Groups computed when ``--features`` is not given (fast, all derived from one STFT).
DEFAULT_GROUPS: tuple[str, ...] = tuple(g for g, c in GROUP_COLUMNS.items() if c.default)
#: What each group holds (for ``--help`` and the README).
GROUP_HELP: dict[str, str] = {g: c.help for g, c in GROUP_COLUMNS.items()}
#: Groups computed by librosa (with its numba kernels); the others need numpy only.
LIBROSA_GROUPS = frozenset(g for g, c in GROUP_COLUMNS.items() if c.librosa)

#: Statistics every ``--stats`` accepts (plus ``pNN`` percentiles, e.g. ``p10``).
STAT_NAMES: tuple[str, ...] = ("mean", "std", "min", "max", "median")
DEFAULT_STATS: tuple[str, ...] = ("mean", "std", "min", "max")


@dataclass(frozen=True)
class FeatureParams:
    """Every parameter that changes a feature value (recorded in the output metadata).

    Attributes
    ----------
    groups : tuple of str
        Feature groups to compute (see :data:`GROUPS`).
    sr : int or None
        Target sample rate (None: each file's own rate; used by the file API only).
    n_fft, hop_length : int
        STFT window and hop in samples (``center=True``, Hann window, zero padding).
    n_mels, n_mfcc : int
        Mel bands and cepstral coefficients.
    fmin, fmax : float, float or None
        Mel filterbank range in Hz (fmax None: half the sample rate).
    stats : tuple of str
        Statistics of summary rows: mean, std, min, max, median, pNN.
    roll_percent : tuple of float
        Roll-off percentages, each in (0, 1) (librosa's ``roll_percent``; default 0.85).
        One column per value (see :func:`rolloff_names`).
    bandwidth_p : tuple of float
        Orders of the spectral bandwidth, each > 0 (librosa's ``p``; default 2).
    n_chroma : int
        Chroma bins per octave (librosa's ``n_chroma``; 12), for ``chroma`` and ``cens``
        (``tonnetz`` is defined on 12 pitch classes and keeps them).
    mono : bool
        True (default): channels are mixed to mono. False: each channel's features
        separately (one row per channel, column ``channel``).
    frame_local : bool
        False (default): librosa's whole-input defaults (dB floored ``TOP_DB`` below
        the file's maximum, chroma tuning estimated from the file; a file of several
        blocks takes two passes). True: every frame depends on its neighbourhood only
        (dB floor ``AMIN``, A440 chroma), so that blocks, segments and whole files
        agree and one pass suffices.
    """

    groups: tuple[str, ...] = DEFAULT_GROUPS
    sr: int | None = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    n_mfcc: int = 13
    fmin: float = 0.0
    fmax: float | None = None
    stats: tuple[str, ...] = DEFAULT_STATS
    mono: bool = field(default=True)
    frame_local: bool = False
    roll_percent: tuple[float, ...] = DEFAULT_ROLL_PERCENT
    bandwidth_p: tuple[float, ...] = DEFAULT_BANDWIDTH_P
    n_chroma: int = DEFAULT_N_CHROMA

    def __post_init__(self) -> None:
        bad = [g for g in self.groups if g not in GROUPS]
        if bad:
            known = ", ".join(GROUPS)
            raise UsageError(f"unknown feature group(s): {', '.join(bad)} (known: {known})")
        if not self.groups:
            raise UsageError("no feature groups selected")
        for s in self.stats:
            parse_stat(s)
        if self.n_mfcc > self.n_mels:
            raise UsageError(f"--n-mfcc ({self.n_mfcc}) cannot exceed --n-mels ({self.n_mels})")
        if self.hop_length > self.n_fft:
            raise UsageError("--hop-length cannot exceed --n-fft")
        _check_values("--roll-percent", self.roll_percent, lambda r: 0 < r < 1, "in (0, 1)")
        _check_values("--bandwidth-p", self.bandwidth_p, lambda q: 0 < q <= 16, "in (0, 16]")
        if not 1 <= self.n_chroma <= 120:
            raise UsageError(f"--n-chroma {self.n_chroma}: must be in [1, 120]")

    def to_json(self) -> str:
        """All parameters as a JSON object (stored in the Parquet schema metadata)."""
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureParams:
        """The parameters :meth:`to_json` wrote (as stored in tables and models).

        Parameters written before ``frame_local`` existed were computed that way
        (``frame_local=True``).
        """
        known = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in known}
        kw.setdefault("frame_local", True)
        for k in ("groups", "stats", "roll_percent", "bandwidth_p"):
            if k in kw:
                kw[k] = tuple(kw[k])
        return cls(**kw)


def _check_values(
    option: str, values: tuple[float, ...], ok: Callable[[float], bool], want: str
) -> None:
    if not values:
        raise UsageError(f"{option}: give at least one value")
    for v in values:
        if not (isinstance(v, (int, float)) and ok(v)):
            raise UsageError(f"{option} {v}: must be {want}")
    if len(set(values)) != len(values):
        raise UsageError(f"{option}: a value is given twice")


def parse_floats(option: str, spec: str | None, default: tuple[float, ...]) -> tuple[float, ...]:
    """Parse ``"0.1,0.85"`` into floats, in the order given (None: ``default``).

    Raises
    ------
    UsageError
        For a value that is not a finite number.
    """
    if spec is None:
        return default
    out = []
    for item in (s.strip() for s in spec.split(",")):
        try:
            v = float(item)
        except ValueError:
            raise UsageError(f"{option} {item!r}: not a number") from None
        if v != v or v in (float("inf"), float("-inf")):
            raise UsageError(f"{option} {item!r}: not a finite number")
        out.append(v)
    return tuple(out)


def _label(v: float) -> str:
    """A number as a column-name suffix: 0.85 -> ``85``, 0.995 -> ``99_5``, 3 -> ``3``."""
    return f"{v:g}".replace(".", "_").replace("-", "m")


def rolloff_names(percents: tuple[float, ...]) -> list[str]:
    """Roll-off columns: ``spectral_rolloff`` for librosa's default 0.85 alone, else one
    ``spectral_rolloff_<percent>`` per value (0.1 -> ``spectral_rolloff_10``)."""
    if tuple(percents) == DEFAULT_ROLL_PERCENT:
        return ["spectral_rolloff"]
    return [f"spectral_rolloff_{_label(round(r * 100, 6))}" for r in percents]


def bandwidth_names(orders: tuple[float, ...]) -> list[str]:
    """Bandwidth columns: ``spectral_bandwidth`` for librosa's default p=2 alone, else one
    ``spectral_bandwidth_p<order>`` per value (3 -> ``spectral_bandwidth_p3``)."""
    if tuple(orders) == DEFAULT_BANDWIDTH_P:
        return ["spectral_bandwidth"]
    return [f"spectral_bandwidth_p{_label(q)}" for q in orders]


def parse_groups(spec: str | None) -> tuple[str, ...]:
    """Parse ``"mfcc,chroma"``, ``"default,hpss"`` or ``"all"`` into groups in output order.

    Raises
    ------
    UsageError
        For an unknown group name.
    """
    if spec is None:
        return DEFAULT_GROUPS
    if not spec.strip():
        raise UsageError("--features '': name groups (e.g. mfcc,rms), 'default' or 'all'")
    wanted: set[str] = set()
    for item in (s.strip().lower() for s in spec.split(",")):
        if not item:
            continue
        if item == "all":
            wanted.update(GROUPS)
        elif item == "default":
            wanted.update(DEFAULT_GROUPS)
        elif item in GROUPS:
            wanted.add(item)
        else:
            raise UsageError(
                f"unknown feature group {item!r} (known: {', '.join(GROUPS)}, default, all)"
            )
    if not wanted:
        raise UsageError("no feature groups selected")
    return tuple(g for g in GROUPS if g in wanted)


_PCT = re.compile(r"^p(\d{1,2}(?:\.\d+)?)$")


def parse_stat(name: str) -> float | None:
    """Validate a statistic name; return its percentile (``median`` -> 50) or None.

    Raises
    ------
    UsageError
    """
    if name in ("mean", "std", "min", "max"):
        return None
    if name == "median":
        return 50.0
    m = _PCT.match(name)
    if m and 0 <= float(m.group(1)) <= 100:
        return float(m.group(1))
    raise UsageError(f"unknown statistic {name!r} (use mean, std, min, max, median, p10, p90...)")


def parse_stats(spec: str | None) -> tuple[str, ...]:
    """Parse ``"mean,std,p10,p90"`` (order kept, duplicates dropped)."""
    if spec is None:
        return DEFAULT_STATS
    if not spec.strip():
        raise UsageError("--stats '': name statistics (e.g. mean,std,p90)")
    out: list[str] = []
    for item in (s.strip().lower() for s in spec.split(",")):
        if item and item not in out:
            parse_stat(item)
            out.append(item)
    if not out:
        raise UsageError("no statistics selected")
    return tuple(out)


def frame_features(p: FeatureParams) -> list[tuple[str, int]]:
    """Frame-level features of the selected groups: (name, dimensions), in column order."""
    return [f for g in p.groups for f in GROUP_COLUMNS[g].frames(p)]


def scalar_features(p: FeatureParams) -> list[str]:
    """Per-file (or per-window) scalar columns of the selected groups."""
    return [name for g in p.groups for name in GROUP_COLUMNS[g].scalars]


def expand(name: str, dims: int) -> list[str]:
    """Column names of one feature: ``rms`` or ``mfcc_00``... (at least two digits)."""
    if dims == 1:
        return [name]
    width = max(2, len(str(dims - 1)))
    return [f"{name}_{i:0{width}d}" for i in range(dims)]


def frame_columns(p: FeatureParams) -> list[str]:
    """Feature columns of ``--frames`` rows."""
    return list(_frame_columns(p))


def summary_columns(p: FeatureParams) -> list[str]:
    """Feature columns of summary and window rows: ``<column>_<stat>``, then the scalars."""
    return list(_summary_columns(p))


@functools.lru_cache(maxsize=8)
def _frame_columns(p: FeatureParams) -> tuple[str, ...]:
    return tuple(c for name, dims in frame_features(p) for c in expand(name, dims))


@functools.lru_cache(maxsize=8)
def _summary_columns(p: FeatureParams) -> tuple[str, ...]:
    cols = [f"{c}_{s}" for c in _frame_columns(p) for s in p.stats]
    return tuple(cols + scalar_features(p))
