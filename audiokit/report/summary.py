"""What a dataset report says: counts, totals, class balance and the outliers of each measure.

Pure functions over inspect rows (dicts with inspect's columns: ``path``, ``format``,
``samplerate``, ``channels``, ``bit_depth``, ``duration``, ``size_bytes``, the levels and,
when measured, the loudness columns). Nothing here reads audio or draws.

**Outliers.** For each measure (:data:`MEASURES`), over the files where it is a finite
number: the median ``m`` and the median absolute deviation ``MAD``; a file is an outlier
when ``|x - m| > max(K * 1.4826 * MAD, floor + relative * |m|)`` (``K`` = 3, a robust
three-sigma: ``1.4826 * MAD`` estimates the standard deviation of normal data). The floor
keeps a dataset whose values are all alike (MAD = 0) from flagging negligible differences;
a floor of 0 (clipping) flags any file that differs from the median at all. Non-finite
values that are not NaN (``-inf`` dBFS: digital silence) are always outliers; NaN and
missing values are not measured and left out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Robust z threshold of the outlier rule.
K = 3.0
#: ``1.4826 * MAD`` estimates the standard deviation of normally distributed values.
MAD_TO_SIGMA = 1.4826
#: Outliers listed per measure (the most extreme first); the rest are counted.
MAX_LISTED = 50


@dataclass(frozen=True)
class Measure:
    """One column of inspect rows that the report draws and screens for outliers.

    Attributes
    ----------
    key : str
        The inspect column.
    label : str
        Its name in the report (and the histogram's title).
    unit : str
        Unit of the values ("" for none).
    floor : float
        Smallest deviation from the median that can make an outlier (in ``unit``).
    relative : float
        Added to ``floor``, times ``|median|``.
    """

    key: str
    label: str
    unit: str
    floor: float = 0.0
    relative: float = 0.0


#: The measures of the report, in page order (a column absent from the rows is skipped).
MEASURES: tuple[Measure, ...] = (
    Measure("duration", "duration", "s", floor=0.0, relative=0.01),
    Measure("loudness_lufs", "loudness", "LUFS", floor=1.0),
    Measure("peak_dbfs", "peak", "dBFS", floor=1.0),
    Measure("clipped_fraction", "clipping", "fraction of samples", floor=0.0),
    Measure("dc_offset", "DC offset", "full scale", floor=1e-3),
    Measure("silent_fraction", "silence", "fraction of 20 ms frames", floor=0.01),
)


@dataclass(frozen=True)
class Outlier:
    """A file whose value of a measure is beyond the bounds.

    Attributes
    ----------
    path : str
    value : float
    side : str
        ``low`` or ``high``.
    """

    path: str
    value: float
    side: str


@dataclass(frozen=True)
class MeasureSummary:
    """One measure over the dataset.

    Attributes
    ----------
    measure : Measure
    values : np.ndarray, shape (n,), float64
        The finite values (what the histogram draws).
    non_finite : int
        Files whose value is ``±inf`` (outliers, not drawn).
    missing : int
        Files without a value (NaN or not measured).
    median, mad : float
        Of ``values`` (NaN when there are none).
    bound : float
        Largest deviation from the median that is not an outlier.
    outliers : tuple of Outlier
        Every outlier, the most extreme first.
    """

    measure: Measure
    values: np.ndarray
    non_finite: int
    missing: int
    median: float
    mad: float
    bound: float
    outliers: tuple[Outlier, ...]

    @property
    def low(self) -> float:
        """Lowest value that is not an outlier."""
        return self.median - self.bound

    @property
    def high(self) -> float:
        """Highest value that is not an outlier."""
        return self.median + self.bound

    @property
    def listed(self) -> tuple[Outlier, ...]:
        """The outliers the report lists (at most :data:`MAX_LISTED`)."""
        return self.outliers[:MAX_LISTED]


@dataclass(frozen=True)
class Summary:
    """A dataset at a glance.

    Attributes
    ----------
    files : int
        Files measured.
    failed : tuple of (path, reason)
        Inputs that could not be read.
    total_seconds : float
        Sum of the durations.
    total_bytes : int
    formats, samplerates, channels, bit_depths : dict of str to int
        Files per container format, sample rate (Hz), channel count and bit depth
        (``none`` for lossy and other formats without one), in ascending order.
    classes : dict of str to int or None
        Files per class (the parent folder's name) with ``--label-from-parent``.
    measures : tuple of MeasureSummary
    warned : tuple of (path, warning)
        Files read with a warning (damaged, read as far as they go).
    """

    files: int
    failed: tuple[tuple[str, str], ...]
    total_seconds: float
    total_bytes: int
    formats: dict[str, int]
    samplerates: dict[str, int]
    channels: dict[str, int]
    bit_depths: dict[str, int]
    classes: dict[str, int] | None
    measures: tuple[MeasureSummary, ...]
    warned: tuple[tuple[str, str], ...] = ()

    @property
    def total_hours(self) -> float:
        return self.total_seconds / 3600.0


def _number(v: Any) -> float:
    """A cell as a float (NaN for missing or non-numeric cells)."""
    if v is None or isinstance(v, bool):
        return math.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def robust_bounds(values: np.ndarray, measure: Measure) -> tuple[float, float, float]:
    """Median, MAD and the outlier bound of finite ``values`` (shape (n,)).

    Returns NaNs (and bound NaN) for an empty array.
    """
    if values.size == 0:
        return math.nan, math.nan, math.nan
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    bound = max(K * MAD_TO_SIGMA * mad, measure.floor + measure.relative * abs(med))
    return med, mad, bound


def summarize_measure(rows: Sequence[Mapping[str, Any]], measure: Measure) -> MeasureSummary:
    """Values, robust bounds and outliers of one measure over ``rows``."""
    raw = np.array([_number(r.get(measure.key)) for r in rows], dtype=np.float64)
    finite = np.isfinite(raw)
    infinite = np.isinf(raw)
    values = raw[finite]
    med, mad, bound = robust_bounds(values, measure)
    found: list[tuple[float, Outlier]] = []
    for r, x in zip(rows, raw, strict=True):
        if math.isnan(x):
            continue
        side = "low" if (x < med or (math.isinf(x) and x < 0)) else "high"
        if math.isinf(x):
            found.append((math.inf, Outlier(str(r.get("path")), float(x), side)))
        elif abs(x - med) > bound:
            found.append((abs(x - med), Outlier(str(r.get("path")), float(x), side)))
    found.sort(key=lambda t: (-t[0], t[1].path))
    return MeasureSummary(
        measure=measure,
        values=values,
        non_finite=int(infinite.sum()),
        missing=int((~finite & ~infinite).sum()),
        median=med,
        mad=mad,
        bound=bound,
        outliers=tuple(o for _, o in found),
    )


def _counts(values: Sequence[Any]) -> dict[str, int]:
    """Files per value, ascending (numbers numerically, ``none`` last)."""
    counter = Counter("none" if v is None else v for v in values)

    def key(item: tuple[Any, int]) -> tuple[int, float, str]:
        v = item[0]
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return (0, float(v), "")
        return (1 if v != "none" else 2, 0.0, str(v))

    return {str(v): n for v, n in sorted(counter.items(), key=key)}


def summarize(
    rows: Sequence[Mapping[str, Any]],
    *,
    failed: Sequence[tuple[str, str]] = (),
    labels: Sequence[str] | None = None,
    measures: Sequence[Measure] = MEASURES,
) -> Summary:
    """Summarize inspect rows.

    Parameters
    ----------
    rows
        One inspect row per file, in report order.
    failed
        ``(path, reason)`` of the inputs that could not be read.
    labels
        The class of each row (same length as ``rows``), or None for no class balance.
    measures
        The measures to screen; those whose column no row has are left out.

    Returns
    -------
    Summary
    """
    if labels is not None and len(labels) != len(rows):
        raise ValueError("one label per row")
    present = {k for r in rows for k in r}
    durations = [_number(r.get("duration")) for r in rows]
    sizes = [_number(r.get("size_bytes")) for r in rows]
    warned = tuple((str(r.get("path")), str(w)) for r in rows for w in (r.get("warnings") or ()))
    return Summary(
        files=len(rows),
        failed=tuple((str(p), str(why)) for p, why in failed),
        total_seconds=float(sum(d for d in durations if math.isfinite(d))),
        total_bytes=int(sum(s for s in sizes if math.isfinite(s))),
        formats=_counts([r.get("format") for r in rows]),
        samplerates=_counts([r.get("samplerate") for r in rows]),
        channels=_counts([r.get("channels") for r in rows]),
        bit_depths=_counts([r.get("bit_depth") for r in rows]),
        classes=_counts(list(labels)) if labels is not None else None,
        measures=tuple(summarize_measure(rows, m) for m in measures if m.key in present),
        warned=warned,
    )
