"""The pictures of a report, as PNG bytes: one histogram per measure, spectrogram thumbnails.

Drawn headless with :mod:`audiokit.plots.render` (Agg, the light style, no date or software
stamp in the PNG). Thumbnails reuse ``audiokit spectrogram``'s streamed, pooled STFT
(:func:`audiokit.plots.spectrogram.compute`) and its drawing
(:func:`audiokit.plots.figures.heatmap`) over the first :data:`THUMB_SECONDS` of a file,
mixed to mono; they are computed on the batch engine, one task per file.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audiokit import audio_io
from audiokit.batch import Success, run
from audiokit.inputs import Input
from audiokit.plots import figures, render, sources, spectrogram
from audiokit.plots.options import SpectralOptions
from audiokit.report.summary import MeasureSummary

#: Histogram size in inches and resolution.
HIST_SIZE = (5.0, 2.8)
HIST_DPI = 90.0
#: Bins of a histogram (fewer for fewer files).
MAX_BINS = 40
#: Thumbnail size in inches and resolution; seconds of audio drawn; time columns kept.
THUMB_SIZE = (3.0, 1.7)
THUMB_DPI = 80.0
THUMB_SECONDS = 30.0
THUMB_COLUMNS = 200
#: Thumbnails of a report unless ``--thumbnails`` says otherwise.
DEFAULT_THUMBNAILS = 12


@dataclass(frozen=True)
class Image:
    """A picture of the report.

    Attributes
    ----------
    name : str
        File name (``report_files/<name>`` in Markdown mode), e.g. ``hist-duration.png``.
    png : bytes
    caption : str
    kind : str
        ``histogram`` or ``thumbnail``.
    path : str
        The file a thumbnail shows ("" for histograms).
    """

    name: str
    png: bytes
    caption: str
    kind: str
    path: str = ""


def _bins(values: np.ndarray) -> list[float] | int:
    n = values.size
    count = int(min(MAX_BINS, max(5, math.ceil(2 * n ** (1 / 3)))))  # Rice's rule
    lo, hi = (float(values.min()), float(values.max())) if n else (0.0, 1.0)
    if hi <= lo:  # all alike: one bar in the middle of a unit-wide range
        half = max(abs(lo) * 0.05, 1e-3 if lo == 0 else abs(lo) * 0.05)
        return [float(x) for x in np.linspace(lo - half, hi + half, 6)]
    return count


def histogram(ms: MeasureSummary) -> Image:
    """A histogram of one measure's finite values, with the median and the outlier bounds.

    Files at ``±inf`` (digital silence in dB) cannot be drawn: the title counts them.
    """
    m = ms.measure
    unit = f" ({m.unit})" if m.unit else ""
    title = f"{m.label}: {ms.values.size} files"
    if ms.non_finite:
        title += f", {ms.non_finite} at ±inf not drawn"
    if ms.missing:
        title += f", {ms.missing} not measured"
    with render.figure(*HIST_SIZE, HIST_DPI, "light", title) as fig:
        (ax,) = render.stack(fig, 1, sharex=False)
        color, accent, _, _ = render.colors("light")
        if ms.values.size:
            ax.hist(ms.values, bins=_bins(ms.values), color=color, edgecolor="white", lw=0.5)
            ax.axvline(ms.median, color="black", lw=1.0, label="median")
            for x in (ms.low, ms.high):
                if ms.bound > 0:
                    ax.axvline(x, color=accent, lw=1.0, ls="--")
            ax.margins(x=0.05)
        else:
            ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel(m.label + unit)
        ax.set_ylabel("files")
        png = render.png_bytes(fig)
    return Image(f"hist-{m.key}.png", png, f"{m.label}{unit}", "histogram")


def histograms(measures: Sequence[MeasureSummary]) -> list[Image]:
    """One histogram per measure, in order."""
    return [histogram(ms) for ms in measures]


def sample(paths: Sequence[str], n: int) -> list[int]:
    """Indices of ``n`` paths spread evenly through them in sorted order (deterministic).

    The first and last sorted paths are always in (for ``n >= 2``), so a tree of class
    folders shows each end of it; returns every index when ``n >= len(paths)``.
    """
    order = sorted(range(len(paths)), key=lambda i: paths[i])
    if n <= 0 or not order:
        return []
    if n >= len(order):
        return order
    picks = np.linspace(0, len(order) - 1, n).round().astype(int)
    return [order[i] for i in dict.fromkeys(picks.tolist())]


def thumbnail(inp: Input, *, start: float = 0.0) -> Image:
    """The spectrogram (log frequency, dB re max) of the first seconds of one input, as PNG."""
    info = audio_io.probe(inp.path)
    seconds = min(THUMB_SECONDS, max(info.duration - start, 0.0))
    span = sources.resolve_span(info, start, seconds, sources.MIX)
    sp = SpectralOptions()
    (m,) = spectrogram.compute(inp.path, info, span, sp, "log", THUMB_COLUMNS)
    name = Path(inp.display).name
    with render.figure(*THUMB_SIZE, THUMB_DPI, "light", "") as fig:
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        figures.heatmap(
            m.db[0], m.time_edges, m.freq_edges, ax=ax, yscale="log", vmin=-sp.top_db, vmax=0.0
        )
        ax.set_axis_off()
        png = render.png_bytes(fig)
    return Image("", png, name, "thumbnail", inp.display)


def thumbnails(
    inputs: Sequence[Input], count: int, *, jobs: int | None = None, start: float = 0.0
) -> tuple[list[Image], list[tuple[str, str]]]:
    """Thumbnails of a deterministic sample of ``count`` inputs (:func:`sample`), drawn in
    parallel.

    Returns
    -------
    images : list of Image
        In sorted path order, named ``thumb-000.png``, ``thumb-001.png``...
    failures : list of (path, reason)
        Inputs whose thumbnail could not be drawn (left out of the grid).
    """
    picked = [inputs[i] for i in sample([i.display for i in inputs], count)]
    images: list[Image] = []
    failures: list[tuple[str, str]] = []
    for out in run(functools.partial(thumbnail, start=start), picked, jobs=jobs):
        if isinstance(out, Success):
            img = out.value
            images.append(
                Image(f"thumb-{len(images):03d}.png", img.png, img.caption, img.kind, img.path)
            )
        else:
            failures.append((out.input.display, out.reason))
    return images, failures
