"""Figure builders: each draws one panel on ``ax`` (a new Agg figure when None) and returns it.

They take arrays already computed (see :mod:`audiokit.plots.spectra`), label
their axes with units (s, Hz, dB) and never save anything; saving is
:func:`audiokit.plots.render.save_png`'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from audiokit.plots import render

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.collections import QuadMesh

MEL_TICKS = (0, 500, 1000, 2000, 4000, 8000, 16000)
CHROMA_LABELS = ("C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B")


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the single axes of a new 8 x 3 inch Agg figure."""
    if ax is not None:
        return ax
    render.use_agg()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _lane_label(ax: Axes, label: str) -> None:
    if label:
        ax.text(
            0.005,
            0.97,
            label,
            transform=ax.transAxes,
            va="top",
            ha="left",
            fontsize=8,
            fontweight="bold",
            color="black",
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.7},
        )


def waveform(
    times: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray | None = None,
    ax: Axes | None = None,
    color: str = "#1f5fa8",
    label: str = "",
    alpha: float = 1.0,
    ylabel: str = "amplitude",
) -> Axes:
    """Draw a waveform: the samples as a line (``hi`` None) or a min/max envelope.

    Parameters
    ----------
    times : np.ndarray, shape (n,)
        Seconds of each sample or envelope column.
    lo : np.ndarray, shape (n,)
        Samples, or the minimum of each column.
    hi : np.ndarray, shape (n,), optional
        Maximum of each column (envelope mode).
    """

    ax = _axes(ax)
    if hi is None:
        ax.plot(times, lo, color=color, lw=0.7, alpha=alpha)
        peak = float(np.max(np.abs(lo))) if lo.size else 0.0
    else:
        ax.fill_between(times, lo, hi, color=color, lw=0.4, edgecolor=color, alpha=alpha)
        peak = float(max(np.max(np.abs(lo)), np.max(np.abs(hi)))) if lo.size else 0.0
    lim = max(peak * 1.08, 1e-4)
    ax.set_ylim(-lim, lim)
    ax.axhline(0.0, color=color, lw=0.3, alpha=0.4)
    ax.set_ylabel(ylabel)
    _lane_label(ax, label)
    return ax


def heatmap(
    data: np.ndarray,
    x_edges: np.ndarray,
    y_edges: np.ndarray,
    ax: Axes | None = None,
    cmap: str = "magma",
    yscale: str = "linear",
    vmin: float | None = None,
    vmax: float | None = None,
    ylabel: str = "frequency (Hz)",
    label: str = "",
) -> QuadMesh:
    """Draw a matrix (rows: frequency or coefficient, columns: time) as a mesh.

    Parameters
    ----------
    data : np.ndarray, shape (rows, cols)
    x_edges : np.ndarray, shape (cols + 1,)
        Time edges in seconds.
    y_edges : np.ndarray, shape (rows + 1,)
        Row edges (Hz for spectrograms; must be positive for ``log``).
    yscale
        ``linear``, ``log`` (log-frequency axis) or ``mel``.

    Returns
    -------
    The QuadMesh (for a colour bar).
    """
    ax = _axes(ax)
    mesh = ax.pcolormesh(
        x_edges,
        y_edges,
        data,
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        shading="flat",
        rasterized=True,
        antialiased=False,
        linewidth=0,
    )
    if yscale == "log":
        ax.set_yscale("log")
        render.light_log_ticks(ax.yaxis)
    elif yscale == "mel":
        render.set_mel_scale(ax)
        from matplotlib.ticker import FixedLocator

        lo, hi = float(y_edges[0]), float(y_edges[-1])
        ticks = [f for f in MEL_TICKS if lo <= f <= hi]
        ax.yaxis.set_major_locator(FixedLocator(ticks))
        ax.yaxis.set_major_formatter(render.hz_formatter())
    elif ylabel.endswith("(Hz)"):
        ax.yaxis.set_major_formatter(render.hz_formatter())
    ax.set_ylim(float(y_edges[0]), float(y_edges[-1]))
    ax.set_ylabel(ylabel)
    _lane_label(ax, label)
    return mesh


def spectrum(
    freqs: np.ndarray,
    db: np.ndarray,
    ax: Axes | None = None,
    color: str = "#1f5fa8",
    ylabel: str = "magnitude (dB re max)",
    label: str = "",
    floor: float | None = None,
) -> Axes:
    """Draw a spectrum curve: frequency (Hz, log axis; the DC bin is left out) against dB.

    Parameters
    ----------
    freqs : np.ndarray, shape (bins,)
    db : np.ndarray, shape (bins,)
    floor
        Lowest dB shown (default: the curve's minimum).
    """

    ax = _axes(ax)
    keep = freqs > 0
    freqs, db = freqs[keep], db[keep]
    ax.plot(freqs, db, color=color, lw=0.8)
    ax.set_xscale("log")
    render.light_log_ticks(ax.xaxis)
    ax.set_xlim(float(freqs[0]), float(freqs[-1]))
    top = float(np.max(db))
    bottom = float(np.min(db)) if floor is None else floor
    ax.set_ylim(bottom - 2, top + 3)
    ax.set_xlabel("frequency (Hz)")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_formatter(render.hz_formatter())
    ax.grid(True, lw=0.3, alpha=0.5)
    _lane_label(ax, label)
    return ax


def curves_over_waveform(
    times: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray | None,
    curves: Sequence[tuple[str, np.ndarray, np.ndarray, str]],
    ax: Axes | None = None,
    color: str = "#1f5fa8",
    label: str = "",
) -> Axes:
    """Draw normalised curves (0..1) over a faint waveform scaled to the same range.

    Parameters
    ----------
    times, lo, hi
        The waveform (see :func:`waveform`); scaled so its peak is 1.
    curves : sequence of (name, times (frames,), values in [0, 1] (frames,), colour)
    """

    ax = _axes(ax)
    peak = max(float(np.max(np.abs(lo))), float(np.max(np.abs(hi))) if hi is not None else 0.0)
    scale = 1.0 / peak if peak > 0 else 1.0
    if hi is None:
        ax.plot(times, lo * scale, color=color, lw=0.5, alpha=0.35)
    else:
        ax.fill_between(times, lo * scale, hi * scale, color=color, lw=0, alpha=0.35)
    for name, t, v, c in curves:
        ax.plot(t, v, color=c, lw=1.1, label=name)
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("normalised")
    ax.legend(loc="lower right", ncols=max(1, len(curves)))
    _lane_label(ax, label)
    return ax


def zero_crossings(
    times: np.ndarray,
    y: np.ndarray,
    crossings: np.ndarray,
    ax: Axes | None = None,
    color: str = "#1f5fa8",
    marker_color: str = "#d62728",
    label: str = "",
) -> Axes:
    """Draw a zoomed waveform with its zero crossings marked (and counted in the legend).

    Parameters
    ----------
    times, y : np.ndarray, shape (n,)
    crossings : np.ndarray of int
        Sample indices ``i`` where the sign changes between ``y[i-1]`` and ``y[i]``.
    """

    ax = _axes(ax)
    ax.plot(times, y, color=color, lw=0.9, marker=".", ms=2.5)
    ax.axhline(0.0, color="0.5", lw=0.6)
    if crossings.size:
        i = crossings
        y0, y1 = y[i - 1].astype("float64"), y[i].astype("float64")
        d = y1 - y0
        frac = np.where(d != 0, -y0 / np.where(d != 0, d, 1), 0.0)
        tz = times[i - 1] + np.clip(frac, 0, 1) * (times[i] - times[i - 1])
        ax.plot(
            tz,
            np.zeros_like(tz),
            ls="none",
            marker="o",
            ms=5,
            mfc="none",
            mec=marker_color,
            mew=1.2,
            label=f"{len(crossings)} zero crossings",
        )
        ax.legend(loc="upper right")
    peak = max(float(np.max(np.abs(y))), 1e-4)
    ax.set_ylim(-peak * 1.1, peak * 1.1)
    ax.set_ylabel("amplitude")
    _lane_label(ax, label)
    return ax


def event_lines(
    ax: Axes,
    onsets: np.ndarray,
    beats: np.ndarray,
    onset_color: str = "#d62728",
    beat_color: str = "#2ca02c",
) -> Axes:
    """Mark onsets (dashed) and beats (solid) as vertical lines on a waveform panel."""
    handles: list[Any] = []
    if onsets.size:
        handles.append(
            ax.vlines(
                onsets,
                0,
                1,
                transform=ax.get_xaxis_transform(),
                color=onset_color,
                lw=0.9,
                ls="--",
                label=f"{onsets.size} onsets",
            )
        )
    if beats.size:
        handles.append(
            ax.vlines(
                beats,
                0,
                1,
                transform=ax.get_xaxis_transform(),
                color=beat_color,
                lw=1.3,
                alpha=0.7,
                label=f"{beats.size} beats",
            )
        )
    if handles:
        ax.legend(handles=handles, loc="upper right")
    return ax
