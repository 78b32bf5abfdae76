"""One file in, one PNG out: options, results and the batch tasks of ``plot`` and ``spectrogram``.

A task is ``task(inp) -> DrawResult``, bound with :func:`functools.partial`
to a frozen options dataclass; it runs in a worker process, reads the
audio through :mod:`audiokit.plots.sources`, reduces it with
:mod:`audiokit.plots.spectra`, draws with :mod:`audiokit.plots.figures`
and saves through :func:`audiokit.plots.render.save_png` (atomic).

Memory: ``waveform``, ``spectrum``, ``psd``, ``overview`` and ``spectrogram``
stream the file (a min/max envelope per pixel column, a block-wise STFT
mean-pooled to at most ``max_columns`` columns, segment averages), so a
3-hour file draws in bounded memory. ``features``, ``zcr``, ``mfcc``,
``chroma`` and ``onsets`` read the span into memory (at most
:data:`~audiokit.plots.sources.MAX_IN_MEMORY_SECONDS` seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit import audio_io
from audiokit.errors import UsageError
from audiokit.inputs import Input
from audiokit.limits import check_spectral
from audiokit.plots import KINDS, SCALES, analysis, kinds, render, sources, spectrogram
from audiokit.plots.options import (
    FigureOptions,
    PlotJob,
    SpectralOptions,
    SpectrogramJob,
)
from audiokit.plots.render import Panel
from audiokit.warmup import probe_signal

if TYPE_CHECKING:
    from audiokit.audio_io import AudioInfo
    from audiokit.plots.sources import Span

#: Zoom of ``--kind zcr`` when no --duration is given (seconds).
ZCR_WINDOW = 0.01


@dataclass(frozen=True)
class DrawResult:
    """What one task drew.

    Attributes
    ----------
    path : str
        The input as named on the command line.
    output : str
        The PNG written.
    kind : str
        The picture kind (``spectrogram`` for that command).
    width, height : int
        Image size in pixels.
    dpi : float
    start, seconds : float
        The span of audio drawn (seconds).
    lanes : int
        Channels drawn (one lane each).
    panels : tuple of Panel
        Where each plotting area is in the image.
    data : str or None
        The matrix file written with ``--data``.
    notes : dict
        Kind-specific numbers (``zero_crossings``, ``tempo_bpm``, ``pool``...).
    elapsed : float
        Seconds spent.
    """

    path: str
    output: str
    kind: str
    width: int
    height: int
    dpi: float
    start: float
    seconds: float
    lanes: int
    panels: tuple[Panel, ...]
    data: str | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    elapsed: float = 0.0

    def row(self) -> dict[str, Any]:
        """A flat dict for JSON lines and tables."""
        return {
            "path": self.path,
            "output": self.output,
            "kind": self.kind,
            "width": self.width,
            "height": self.height,
            "dpi": self.dpi,
            "start": round(self.start, 6),
            "seconds": round(self.seconds, 6),
            "lanes": self.lanes,
            "data": self.data,
            **self.notes,
            "elapsed": round(self.elapsed, 3),
        }


def validate(figure: FigureOptions, spectral: SpectralOptions, kind: str = "plot") -> None:
    """Check option values once, in the main process.

    Raises
    ------
    UsageError
    """
    if kind not in (*KINDS, "spectrogram"):
        raise UsageError(f"unknown kind {kind!r} (use one of {', '.join(KINDS)})")
    if figure.style not in render.STYLES:
        raise UsageError(f"unknown style {figure.style!r} (use light or dark)")
    if figure.duration is not None and figure.duration <= 0:
        raise UsageError("--duration must be positive")
    if figure.start is not None and figure.start < 0:
        raise UsageError("--start must not be negative")
    w, h = figure.size(kind, 1)
    if w * figure.dpi > 20000 or h * figure.dpi > 20000 or min(w, h, figure.dpi) <= 0:
        raise UsageError("--width/--height times --dpi must give 1 to 20000 pixels a side")
    if w * figure.dpi < 100 or h * figure.dpi < 60:
        raise UsageError("image too small: at least 100 x 60 pixels (--width/--height x --dpi)")
    n_mels = spectral.n_mels if kind in ("overview", "mfcc", "spectrogram") else None
    st = spectral.stft
    check_spectral(st.n_fft, st.hop_length, n_mels, spectral.fmin, spectral.fmax)
    if spectral.top_db <= 0:
        raise UsageError("--top-db must be positive")
    if spectral.stft.window not in ("hann", "hanning"):
        _check_window(spectral.stft.window)
    if spectral.cmap is not None:
        _check_cmap(spectral.cmap)


def _check_window(name: str) -> None:
    from scipy.signal import get_window

    try:
        get_window(name, 16)
    except (ValueError, TypeError):
        raise UsageError(f"unknown window {name!r} (e.g. hann, hamming, blackman)") from None


def _check_cmap(name: str) -> None:
    import matplotlib

    if name not in matplotlib.colormaps:
        raise UsageError(f"unknown colour map {name!r} (e.g. magma, viridis, gray_r)")


def title_for(inp: Input, figure: FigureOptions) -> str:
    """The figure title: ``--title`` or the input's file name."""
    if figure.title is not None:
        return figure.title
    return "standard input" if inp.display == "-" else Path(inp.display).name


def resolve(inp: Input, figure: FigureOptions, kind: str) -> tuple[AudioInfo, Span]:
    """Probe the input and work out the span and lanes to draw."""
    info = audio_io.probe(inp.path)
    start, duration = figure.start, figure.duration
    if kind == "zcr":
        duration = duration if duration is not None else ZCR_WINDOW
        if start is None:
            start = max(0.0, info.duration / 2 - duration / 2)
    channel = figure.channel
    if kind == "overview" and channel is None:
        channel = sources.MIX
    span = sources.resolve_span(info, start or 0.0, duration, channel)
    if info.path != inp.display:
        info = _renamed(info, inp.display)
    return info, span


def _renamed(info: AudioInfo, display: str) -> AudioInfo:
    return replace(info, path=display)


def plot_task(job: PlotJob, inp: Input) -> DrawResult:
    """Draw ``job.kind`` of one input and save it (see :mod:`audiokit.plots.kinds`)."""
    t0 = time.perf_counter()
    target = job.output.path_for(inp)
    info, span = resolve(inp, job.figure, job.kind)
    drawn = kinds.draw(job, inp.path, info, span, title_for(inp, job.figure), target)
    return DrawResult(
        path=inp.display,
        output=str(target),
        kind=job.kind,
        width=drawn.width,
        height=drawn.height,
        dpi=job.figure.dpi,
        start=span.offset,
        seconds=span.duration,
        lanes=span.lanes,
        panels=drawn.panels,
        notes=drawn.notes,
        elapsed=time.perf_counter() - t0,
    )


#: Kinds whose analysis calls librosa (and so its numba kernels).
LIBROSA_KINDS = ("chroma",)
#: Rate of the warm-up probe (plots keep each file's own rate).
PROBE_SR = 22050


def warm_up(job: PlotJob) -> None:
    """Run the librosa analysis of ``job.kind`` once on a probe signal, in this process.

    Called before workers are forked, so that they inherit librosa's compiled
    kernels (see :mod:`audiokit.warmup`). The other kinds, and ``spectrogram``,
    use numpy only: nothing to do.
    """
    if job.kind not in LIBROSA_KINDS:
        return
    sp, y = job.spectral, probe_signal(PROBE_SR)
    analysis.feature_matrix(y, PROBE_SR, job.kind, sp.stft, sp.n_mfcc, sp.n_mels, sp.fmin, sp.fmax)


def spectrogram_task(job: SpectrogramJob, inp: Input) -> DrawResult:
    """Draw (and optionally save the matrix of) the spectrogram of one input."""
    if job.scale not in SCALES:
        raise UsageError(f"unknown scale {job.scale!r}")
    t0 = time.perf_counter()
    target = job.output.path_for(inp)
    data_target = job.data.path_for(inp) if job.data is not None else None
    info, span = resolve(inp, job.figure, "spectrogram")
    drawn = spectrogram.draw(
        job, inp.path, info, span, title_for(inp, job.figure), target, data_target
    )
    return DrawResult(
        path=inp.display,
        output=str(target),
        kind="spectrogram",
        width=drawn.width,
        height=drawn.height,
        dpi=job.figure.dpi,
        start=span.offset,
        seconds=span.duration,
        lanes=span.lanes,
        panels=drawn.panels,
        data=str(data_target) if data_target is not None else None,
        notes=drawn.notes,
        elapsed=time.perf_counter() - t0,
    )
