"""Matplotlib set-up: the Agg backend, light/dark styles, figures, axes helpers, PNG saving.

Figures are built with the object API (:class:`matplotlib.figure.Figure`
attached to a :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`),
never through pyplot: no global figure registry, nothing leaks from one
file to the next in a worker that draws thousands. Images are deterministic
(bundled DejaVu fonts, no date or software stamp), so they can be compared
with committed baselines.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiokit import writers
from audiokit.errors import UsageError
from audiokit.output import files

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

STYLES = ("light", "dark")

_BASE_RC: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.labelsize": 9.0,
    "svg.hashsalt": "audiokit",
    "path.simplify": True,
    "agg.path.chunksize": 20000,
    "axes.xmargin": 0.0,
    "legend.fontsize": 8.0,
    "legend.framealpha": 0.6,
}

#: Line colours of the two styles (waveform, accent, second accent, third accent).
PALETTE = {
    "light": ("#1f5fa8", "#d62728", "#2ca02c", "#ff7f0e"),
    "dark": ("#6fb3ff", "#ff6b6b", "#7ee787", "#ffb454"),
}


def use_agg() -> None:
    """Select the Agg backend (no display needed); call before anything imports pyplot."""
    import matplotlib

    if matplotlib.get_backend().lower() != "agg":
        matplotlib.use("Agg", force=True)


def rc_for(style: str) -> dict[str, Any]:
    """Matplotlib rc parameters of a style (``light`` or ``dark``)."""
    if style not in STYLES:
        raise UsageError(f"unknown style {style!r} (use light or dark)")
    rc = dict(_BASE_RC)
    if style == "dark":
        import matplotlib.style

        dark: Any = matplotlib.style.library["dark_background"]
        rc.update({str(k): v for k, v in dark.items()})
        rc.update(
            {
                "figure.facecolor": "#111111",
                "axes.facecolor": "#111111",
                "savefig.facecolor": "#111111",
            }
        )
    else:
        rc.update(
            {"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white"}
        )
    return rc


def colors(style: str) -> tuple[str, str, str, str]:
    """The style's (waveform, accent, accent2, accent3) colours."""
    return PALETTE.get(style, PALETTE["light"])


#: Fixed margins in inches (left, right, right with a colour bar, top with a title, bottom).
MARGINS = {
    "left": 0.8,
    "right": 0.25,
    "right_cbar": 1.15,
    "top": 0.42,
    "top_bare": 0.15,
    "bottom": 0.5,
}


@contextlib.contextmanager
def figure(
    width: float, height: float, dpi: float, style: str = "light", title: str = ""
) -> Iterator[Figure]:
    """A new Agg figure of ``width`` x ``height`` inches, with the style active while in the block.

    The layout uses fixed margins in inches (see :func:`stack`), not a layout
    engine: the figure is drawn once, when saved.

    Raises
    ------
    UsageError
        A size that is not positive or gives an image over 20000 pixels a side.
    """
    if width <= 0 or height <= 0 or dpi <= 0:
        raise UsageError("--width, --height and --dpi must be positive")
    if width * dpi > 20000 or height * dpi > 20000:
        raise UsageError("image too large: width and height times dpi must stay below 20000 px")
    use_agg()
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rc: Any = rc_for(style)
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, height), dpi=dpi)
        FigureCanvasAgg(fig)
        fig_any: Any = fig
        fig_any._audiokit_title = bool(title)
        if title:
            fig.suptitle(title, fontsize=11, y=1 - 0.08 / height, va="top")
        try:
            yield fig
        finally:
            fig.clear()


def stack(
    fig: Figure,
    n: int,
    height_ratios: list[float] | None = None,
    gap: float = 0.12,
    colorbar: bool = False,
    sharex: bool = True,
) -> list[Axes]:
    """``n`` axes stacked vertically within fixed margins; ``gap`` inches between them.

    With ``sharex``, only the bottom axes shows x tick labels.
    """
    w, h = fig.get_size_inches()
    m = MARGINS
    top = m["top"] if getattr(fig, "_audiokit_title", False) else m["top_bare"]
    right = m["right_cbar"] if colorbar else m["right"]
    avail = max(h - top - m["bottom"], 0.2)
    gap = min(gap, 0.5 * avail / max(n - 1, 1)) if n > 1 else 0.0
    each = (avail - gap * (n - 1)) / n
    gs = fig.add_gridspec(
        n,
        1,
        left=min(m["left"] / w, 0.3),
        right=max(1 - right / w, 0.5),
        top=1 - top / h,
        bottom=m["bottom"] / h,
        hspace=gap / max(each, 1e-3),
        height_ratios=height_ratios,
    )
    axes = gs.subplots(sharex=sharex, squeeze=False)[:, 0]
    return list(axes)


def colorbar(
    fig: Figure, mappable: Any, axes: list[Axes], label: str, fmt: str | None = None
) -> Any:
    """A colour bar right of ``axes`` (spanning them all), in the margin :func:`stack` left."""
    w, _ = fig.get_size_inches()
    boxes = [ax.get_position() for ax in axes]
    x1 = max(b.x1 for b in boxes)
    y0, y1 = min(b.y0 for b in boxes), max(b.y1 for b in boxes)
    cax = fig.add_axes((x1 + 0.15 / w, y0, 0.14 / w, y1 - y0))
    return fig.colorbar(mappable, cax=cax, format=fmt, label=label)


# --------------------------------------------------------------------------- panel geometry


@dataclass(frozen=True)
class Panel:
    """Where a plotting area landed in the saved image (for tests and callers).

    Attributes
    ----------
    name : str
        What the panel shows (``waveform``, ``spectrogram``, ``mel``, ``psd``...).
    bbox : tuple of float
        ``(left, top, right, bottom)`` in image pixels, origin at the top-left corner.
    xlim, ylim : tuple of float
        Data limits of the axes.
    xscale, yscale : str
        ``linear``, ``log`` or ``mel``.
    """

    name: str
    bbox: tuple[float, float, float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xscale: str = "linear"
    yscale: str = "linear"

    @staticmethod
    def _frac(v: float, lim: tuple[float, float], scale: str) -> float:
        if scale == "log":
            f = [math.log10(x) for x in (v, *lim)]
        elif scale == "mel":
            f = [2595.0 * math.log10(1.0 + x / 700.0) for x in (v, *lim)]
        else:
            f = [v, *lim]
        return (f[0] - f[1]) / (f[2] - f[1])

    def x_to_col(self, x: float) -> float:
        """Image column (pixels from the left) of data value ``x``."""
        left, _, right, _ = self.bbox
        return left + self._frac(x, self.xlim, self.xscale) * (right - left)

    def y_to_row(self, y: float) -> float:
        """Image row (pixels from the top) of data value ``y``."""
        _, top, _, bottom = self.bbox
        return bottom - self._frac(y, self.ylim, self.yscale) * (bottom - top)


def register(ax: Axes, name: str, yscale: str = "linear") -> Axes:
    """Remember ``ax`` as a named panel of its figure (see :func:`panels`)."""
    fig: Any = ax.figure
    reg = getattr(fig, "_audiokit_panels", None)
    if reg is None:
        reg = []
        fig._audiokit_panels = reg
    reg.append((name, ax, yscale))
    return ax


def panels(fig: Figure) -> list[Panel]:
    """Geometry of the registered panels, after the figure was drawn."""
    _, height = fig.canvas.get_width_height()
    out = []
    for name, ax, yscale in getattr(fig, "_audiokit_panels", []):
        bb = ax.get_window_extent()
        xl = tuple(float(v) for v in ax.get_xlim())
        yl = tuple(float(v) for v in ax.get_ylim())
        xscale = "log" if ax.get_xscale() == "log" else "linear"
        out.append(
            Panel(
                name,
                (float(bb.x0), float(height - bb.y1), float(bb.x1), float(height - bb.y0)),
                (xl[0], xl[1]),
                (yl[0], yl[1]),
                xscale,
                yscale,
            )
        )
    return out


# --------------------------------------------------------------------------- axes helpers


def _clock(seconds: float, with_hours: bool) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    if with_hours:
        return f"{sign}{int(h)}:{int(m):02d}:{sec:02.0f}"
    return f"{sign}{int(m + 60 * h)}:{sec:02.0f}"


def time_axis(ax: Axes, start: float, end: float, label: bool = True) -> None:
    """Readable time ticks over ``[start, end]`` seconds; limits set to that range.

    Seconds for spans up to 2 minutes, then ``m:ss`` (or ``h:mm:ss`` past an hour).
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_xlim(start, end)
    if end - start <= 120:
        ax.xaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10]))
        if label:
            ax.set_xlabel("time (s)")
        return
    with_hours = end >= 3600
    ax.xaxis.set_major_locator(_clock_locator(end - start))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _clock(v, with_hours)))
    if label:
        ax.set_xlabel("time (h:mm:ss)" if with_hours else "time (m:ss)")


def _clock_locator(end: float) -> Any:
    """Ticks at round clock values (5 s ... 1 h), about 6-10 of them."""
    from matplotlib.ticker import MultipleLocator

    for step in (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800):
        if end / step <= 10:
            return MultipleLocator(step)
    return MultipleLocator(21600)


def hz_formatter() -> Any:
    """Tick labels in Hz below 1 kHz and in kHz (``2k``) above."""
    from matplotlib.ticker import FuncFormatter

    def fmt(v: float, _: Any) -> str:
        if v >= 1000:
            return f"{v / 1000:g}k"
        return f"{v:g}"

    return FuncFormatter(fmt)


def light_log_ticks(axis: Any) -> None:
    """Decades labelled in Hz, unlabelled minor ticks at 2x and 5x only (fewer tick objects,
    which are the main cost of drawing many small figures)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10.0))
    axis.set_major_formatter(hz_formatter())
    axis.set_minor_locator(LogLocator(base=10.0, subs=(2.0, 5.0)))
    axis.set_minor_formatter(NullFormatter())


def set_mel_scale(ax: Axes) -> None:
    """A mel frequency axis (HTK formula, as librosa's default display) labelled in Hz."""

    def fwd(f: Any) -> Any:
        return 2595.0 * np.log10(1.0 + np.maximum(f, 0) / 700.0)

    def inv(m: Any) -> Any:
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    ax.set_yscale("function", functions=(fwd, inv))


# --------------------------------------------------------------------------- saving


def save_png(
    fig: Figure, target: str | os.PathLike[str], overwrite: bool = True
) -> tuple[int, int]:
    """Draw and save ``fig`` as a PNG at its own DPI, atomically.

    The PNG carries the DPI (pHYs chunk) and no ``Software`` or date stamp.

    Returns
    -------
    (width, height) in pixels.

    Raises
    ------
    OutputError
        The file cannot be written (or exists and ``overwrite`` is False).
    """
    with writers.atomic_path(target, overwrite=overwrite) as tmp:
        write_png(fig, tmp, target)
    w, h = fig.canvas.get_width_height(physical=True)
    return int(w), int(h)


def write_png(
    fig: Figure, path: str | os.PathLike[str], target: str | os.PathLike[str] | None = None
) -> None:
    """Write ``fig`` to ``path`` (a temporary file that the caller commits to ``target``)."""
    try:
        fig.savefig(
            path,
            format="png",
            dpi=fig.dpi,
            metadata={"Software": None},
            pil_kwargs={"compress_level": 1},
        )
    except OSError as exc:
        raise files.os_error(exc, target if target is not None else path) from None


def png_bytes(fig: Figure) -> bytes:
    """``fig`` as PNG bytes (as :func:`write_png` writes it), for pages that embed images."""
    buf = io.BytesIO()
    fig.savefig(
        buf,
        format="png",
        dpi=fig.dpi,
        metadata={"Software": None},
        pil_kwargs={"compress_level": 6},
    )
    return buf.getvalue()


@dataclass
class Drawn:
    """A saved picture: its size, panel geometry and notes."""

    width: int
    height: int
    panels: tuple[Panel, ...]
    notes: dict[str, Any] = field(default_factory=dict)


def finish_figure(fig: Figure, target: Path, overwrite: bool) -> tuple[int, int, tuple[Panel, ...]]:
    """Save atomically, and measure the panels."""
    w, h = save_png(fig, target, overwrite=overwrite)
    return w, h, tuple(panels(fig))
