"""The kinds of ``audiokit plot``: read a span, reduce it, draw the lanes.

Each ``_draw_<kind>(ctx)`` fills a figure and returns kind-specific notes;
:func:`draw` creates the figure, calls it, and saves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiokit.dsp import spectrum, util
from audiokit.plots import KINDS, analysis, figures, render, sources, spectra
from audiokit.plots.options import PlotJob, SpectralOptions
from audiokit.plots.render import Drawn

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from audiokit.audio_io import AudioInfo
    from audiokit.plots.sources import Span

#: Spans with at most this many samples per pixel column are drawn sample by sample.
EXACT_SAMPLES_PER_COLUMN = 4
#: Longest single FFT of ``--kind spectrum``; longer spans average such segments.
MAX_FFT = 1 << 21


@dataclass
class Context:
    """What a kind's drawing function gets."""

    fig: Figure
    path: str
    info: AudioInfo
    span: Span
    spectral: SpectralOptions
    style: str
    n_cols: int
    colorbar: bool = False

    @property
    def colors(self) -> tuple[str, str, str, str]:
        return render.colors(self.style)

    @property
    def end(self) -> float:
        return self.span.offset + self.span.duration

    def lanes(self) -> list[Axes]:
        """One axes per lane, stacked, sharing the time axis."""
        return render.stack(self.fig, self.span.lanes, colorbar=self.colorbar)

    def time_axes(self, axes: list[Axes]) -> None:
        for i, ax in enumerate(axes):
            render.time_axis(ax, self.span.offset, self.end, label=i == len(axes) - 1)


@dataclass
class Wave:
    """A waveform ready to draw: samples (``hi`` None) or a min/max envelope."""

    times: np.ndarray
    lo: np.ndarray  # (lanes, n)
    hi: np.ndarray | None  # (lanes, n) or None


def wave_from_array(y: np.ndarray, span: Span, n_cols: int) -> Wave:
    """Samples when few, else their min/max envelope over ``n_cols`` columns."""
    if y.shape[-1] <= EXACT_SAMPLES_PER_COLUMN * n_cols:
        return Wave(span.offset + np.arange(y.shape[-1]) / span.sr, y, None)
    env = spectra.MinMaxEnvelope(y.shape[-1], n_cols, y.shape[0])
    env.feed(y)
    return Wave(env.column_times(span.sr, span.offset), env.mins, env.maxs)


def stream_wave(path: str, info: AudioInfo, span: Span, n_cols: int) -> Wave:
    """The waveform of a span in one streaming pass (bounded memory)."""
    if span.frames <= EXACT_SAMPLES_PER_COLUMN * n_cols:
        return wave_from_array(sources.read_lanes(path, info, span, "waveform"), span, n_cols)
    env = spectra.MinMaxEnvelope(span.frames, n_cols, span.lanes)
    for block in sources.iter_lanes(path, info, span):
        env.feed(block)
    return Wave(env.column_times(span.sr, span.offset), env.mins, env.maxs)


def _draw_wave(ax: Axes, wave: Wave, lane: int, color: str, label: str) -> Axes:
    hi = wave.hi[lane] if wave.hi is not None else None
    return figures.waveform(wave.times, wave.lo[lane], hi, ax=ax, color=color, label=label)


# --------------------------------------------------------------------------- kinds


def _waveform(ctx: Context) -> dict[str, Any]:
    wave = stream_wave(ctx.path, ctx.info, ctx.span, ctx.n_cols)
    axes = ctx.lanes()
    for i, (ax, name) in enumerate(zip(axes, ctx.span.lane_names(), strict=True)):
        _draw_wave(ax, wave, i, ctx.colors[0], name)
        render.register(ax, "waveform")
    ctx.time_axes(axes)
    return {"envelope": wave.hi is not None}


def _spectrum(ctx: Context) -> dict[str, Any]:
    span = ctx.span
    nper = min(span.frames, MAX_FFT)
    acc = spectra.SegmentAverage(nper, nper, span.lanes, "magnitude", span.sr)
    for block in sources.iter_lanes(ctx.path, ctx.info, span):
        acc.feed(block)
    freqs = np.fft.rfftfreq(nper, 1 / span.sr)
    db = spectra.power_to_db(acc.finish() ** 2, ctx.spectral.top_db)
    axes = ctx.lanes()
    for i, (ax, name) in enumerate(zip(axes, span.lane_names(), strict=True)):
        figures.spectrum(
            freqs, db[i], ax=ax, color=ctx.colors[0], label=name, floor=-ctx.spectral.top_db
        )
        render.register(ax, "spectrum")
        if i < len(axes) - 1:
            ax.set_xlabel("")
    return {"fft_size": nper, "segments": acc.segments, "peak_hz": _peaks(freqs, db)}


def _peaks(freqs: np.ndarray, values: np.ndarray) -> list[float]:
    return [round(float(freqs[int(v.argmax())]), 3) for v in values]


def welch(path: str, info: AudioInfo, span: Span, n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Streamed Welch PSD of a span: ``(freqs, psd (lanes, bins))``."""
    nper = max(2, min(n_fft, span.frames))
    acc = spectra.SegmentAverage(nper, nper // 2, span.lanes, "welch", span.sr)
    for block in sources.iter_lanes(path, info, span):
        acc.feed(block)
    return np.fft.rfftfreq(nper, 1 / span.sr), acc.finish()


def _psd_panel(ax: Axes, freqs: np.ndarray, psd: np.ndarray, color: str, label: str) -> None:
    db = spectrum.power_to_db(S=psd, amin=1e-20, top_db=None).astype(np.float32)
    floor = max(float(np.min(db)), float(np.max(db)) - 120.0)
    figures.spectrum(freqs, db, ax=ax, color=color, label=label, ylabel="PSD (dB/Hz)", floor=floor)


def _psd(ctx: Context) -> dict[str, Any]:
    freqs, psd = welch(ctx.path, ctx.info, ctx.span, ctx.spectral.stft.n_fft)
    axes = ctx.lanes()
    for i, (ax, name) in enumerate(zip(axes, ctx.span.lane_names(), strict=True)):
        _psd_panel(ax, freqs, psd[i], ctx.colors[0], name)
        render.register(ax, "psd")
        if i < len(axes) - 1:
            ax.set_xlabel("")
    return {"nperseg": int(2 * (len(freqs) - 1)), "peak_hz": _peaks(freqs, psd)}


def _features(ctx: Context) -> dict[str, Any]:
    y = sources.read_lanes(ctx.path, ctx.info, ctx.span, "--kind features")
    wave = wave_from_array(y, ctx.span, ctx.n_cols)
    axes = ctx.lanes()
    c = ctx.colors
    means: dict[str, list[float]] = {"centroid_hz": [], "rolloff_hz": [], "bandwidth_hz": []}
    for i, (ax, name) in enumerate(zip(axes, ctx.span.lane_names(), strict=True)):
        f = analysis.spectral_features(y[i], ctx.span.sr, ctx.spectral.stft)
        t = ctx.span.offset + f["times"]
        curves = []
        for key, color in (("centroid", c[1]), ("rolloff", c[2]), ("bandwidth", c[3])):
            v = f[key]
            curves.append(
                (f"{key} {v.min():.0f}–{v.max():.0f} Hz", t, analysis.minmax_normalise(v), color)
            )
            means[f"{key}_hz"].append(round(float(v.mean()), 3))
        hi = wave.hi[i] if wave.hi is not None else None
        figures.curves_over_waveform(
            wave.times, wave.lo[i], hi, curves, ax=ax, color=c[0], label=name
        )
        render.register(ax, "features")
    ctx.time_axes(axes)
    return {f"mean_{k}": v for k, v in means.items()}


def _zcr(ctx: Context) -> dict[str, Any]:
    y = sources.read_lanes(ctx.path, ctx.info, ctx.span, "--kind zcr")
    t = ctx.span.offset + np.arange(y.shape[-1]) / ctx.span.sr
    axes = ctx.lanes()
    counts = []
    for i, (ax, name) in enumerate(zip(axes, ctx.span.lane_names(), strict=True)):
        zc = np.flatnonzero(util.zero_crossings(y=y[i], pad=False))
        counts.append(int(zc.size))
        figures.zero_crossings(
            t, y[i], zc, ax=ax, color=ctx.colors[0], marker_color=ctx.colors[1], label=name
        )
        render.register(ax, "zcr")
    ctx.time_axes(axes)
    return {"zero_crossings": counts}


def _pool_columns(m: np.ndarray, max_cols: int) -> tuple[np.ndarray, int]:
    """Mean-pool the last axis so at most ``max_cols`` columns remain."""
    pool = max(1, math.ceil(m.shape[-1] / max_cols)) if max_cols else 1
    if pool == 1:
        return m, 1
    n = m.shape[-1]
    pad = (-n) % pool
    sums = np.add.reduceat(m, np.arange(0, n, pool), axis=-1)
    counts = np.full(sums.shape[-1], pool, dtype=m.dtype)
    counts[-1] = pool - pad
    return sums / counts, pool


def _matrix_kind(ctx: Context, which: str) -> dict[str, Any]:
    sp, span = ctx.spectral, ctx.span
    y = sources.read_lanes(ctx.path, ctx.info, span, f"--kind {which}")
    st = sp.stft
    mats = []
    for lane in y:
        m = analysis.feature_matrix(
            lane, span.sr, which, st, sp.n_mfcc, sp.n_mels, sp.fmin, sp.fmax
        )
        mats.append(m)
    data = np.stack(mats)
    frames = data.shape[-1]
    cols = ctx.n_cols if sp.max_columns is None else sp.max_columns
    data, pool = _pool_columns(data, cols)
    x_edges = (
        spectra.frame_edges(data.shape[-1], pool, frames, st.hop_length, span.sr, span.duration)
        + span.offset
    )
    rows = data.shape[1]
    y_edges = np.arange(rows + 1, dtype=np.float64)
    # MFCC 0 (overall energy) dwarfs the others: the colour scale fits coefficients 1+.
    fit = data[:, 1:] if which == "mfcc" and rows > 1 else data
    lim = max(float(np.max(np.abs(fit))), 1e-6) if which == "mfcc" else 1.0
    vmin = -lim if which == "mfcc" else 0.0
    cmap = sp.cmap or "coolwarm"
    ctx.colorbar = True
    axes = ctx.lanes()
    mesh = None
    for i, (ax, name) in enumerate(zip(axes, span.lane_names(), strict=True)):
        mesh = figures.heatmap(
            data[i],
            x_edges,
            y_edges,
            ax=ax,
            cmap=cmap,
            vmin=vmin,
            vmax=lim,
            ylabel="MFCC" if which == "mfcc" else "pitch class",
            label=name,
        )
        if which == "chroma":
            ax.set_yticks(np.arange(12) + 0.5, figures.CHROMA_LABELS)
        else:
            ticks = np.arange(0, rows, max(1, rows // 5)) + 0.5
            ax.set_yticks(ticks, [str(int(v)) for v in ticks - 0.5])
        render.register(ax, which)
    ctx.time_axes(axes)
    assert mesh is not None
    render.colorbar(ctx.fig, mesh, axes, "MFCC value" if which == "mfcc" else "chroma energy")
    return {"frames": frames, "pool": pool}


def _mfcc(ctx: Context) -> dict[str, Any]:
    return _matrix_kind(ctx, "mfcc")


def _chroma(ctx: Context) -> dict[str, Any]:
    return _matrix_kind(ctx, "chroma")


def _onsets(ctx: Context) -> dict[str, Any]:
    span, hop = ctx.span, ctx.spectral.stft.hop_length
    y = sources.read_lanes(ctx.path, ctx.info, span, "--kind onsets")
    wave = wave_from_array(y, span, ctx.n_cols)
    axes = ctx.lanes()
    notes: dict[str, list[Any]] = {"onsets": [], "beats": [], "tempo_bpm": []}
    for i, (ax, name) in enumerate(zip(axes, span.lane_names(), strict=True)):
        onsets, beats, bpm = analysis.onset_events(y[i], span.sr, hop)
        _draw_wave(ax, wave, i, ctx.colors[0], name)
        figures.event_lines(
            ax, onsets + span.offset, beats + span.offset, ctx.colors[1], ctx.colors[2]
        )
        ax.set_title(f"tempo {bpm:.1f} BPM", fontsize=8, loc="right")
        render.register(ax, "onsets")
        notes["onsets"].append(int(onsets.size))
        notes["beats"].append(int(beats.size))
        notes["tempo_bpm"].append(round(bpm, 2))
    ctx.time_axes(axes)
    return notes


def _overview(ctx: Context) -> dict[str, Any]:
    """Waveform, STFT dB (log frequency), mel dB and Welch PSD of a mono mix, in one pass."""
    sp, span = ctx.spectral, ctx.span
    st = sp.stft
    cols = ctx.n_cols if sp.max_columns is None else sp.max_columns
    pool = spectra.pool_factor(span.frames, st.hop_length, cols)
    env = spectra.MinMaxEnvelope(span.frames, ctx.n_cols, 1)
    stft = spectra.PooledStft(st, 1, pool)
    nper = max(2, min(st.n_fft, span.frames))
    psd_acc = spectra.SegmentAverage(nper, nper // 2, 1, "welch", span.sr)
    for block in sources.iter_lanes(ctx.path, ctx.info, span):
        env.feed(block)
        stft.feed(block)
        psd_acc.feed(block)
    power = stft.finish()
    x_edges = (
        spectra.frame_edges(
            power.shape[-1], pool, stft.frames, st.hop_length, span.sr, span.duration
        )
        + span.offset
    )
    # Five rows: the fourth is an empty spacer leaving room for the time axis labels.
    axes = render.stack(
        ctx.fig, 5, height_ratios=[1, 1.4, 1.4, 0.2, 1.1], gap=0.28, colorbar=True, sharex=False
    )
    ax_w, ax_s, ax_m, spacer, ax_p = axes
    spacer.set_visible(False)
    for ax in (ax_s, ax_m):
        ax.sharex(ax_w)
    figures.waveform(
        env.column_times(span.sr, span.offset),
        env.mins[0],
        env.maxs[0],
        ax=ax_w,
        color=ctx.colors[0],
    )
    ax_w.set_title("waveform", fontsize=9, loc="left")
    render.register(ax_w, "waveform")
    # STFT on a log-frequency axis (DC dropped).
    edges = spectra.linear_bin_edges(st.n_fft, span.sr)[1:]
    db = spectra.power_to_db(power[0, 1:], sp.top_db)
    mesh = figures.heatmap(
        db, x_edges, edges, ax=ax_s, cmap=sp.cmap or "magma", yscale="log", vmin=-sp.top_db, vmax=0
    )
    ax_s.set_title("STFT (dB)", fontsize=9, loc="left")
    render.register(ax_s, "stft", "log")
    fmax = sp.fmax or span.sr / 2
    mel_db = spectra.power_to_db(
        spectra.mel_power(power, span.sr, st.n_fft, sp.n_mels, sp.fmin, fmax)[0], sp.top_db
    )
    figures.heatmap(
        mel_db,
        x_edges,
        spectra.mel_band_edges(sp.n_mels, sp.fmin, fmax),
        ax=ax_m,
        cmap=sp.cmap or "magma",
        yscale="mel",
        vmin=-sp.top_db,
        vmax=0,
    )
    ax_m.set_title(f"mel spectrogram ({sp.n_mels} bands, dB)", fontsize=9, loc="left")
    render.register(ax_m, "mel", "mel")
    for i, ax in enumerate((ax_w, ax_s, ax_m)):
        render.time_axis(ax, span.offset, ctx.end, label=i == 2)
        if i < 2:
            ax.tick_params(labelbottom=False)
    freqs = np.fft.rfftfreq(nper, 1 / span.sr)
    _psd_panel(ax_p, freqs, psd_acc.finish()[0], ctx.colors[0], "")
    ax_p.set_title("power spectral density (Welch)", fontsize=9, loc="left")
    render.register(ax_p, "psd")
    render.colorbar(ctx.fig, mesh, [ax_s, ax_m], "dB re max", "%+2.0f dB")
    return {"pool": pool}


DRAWERS: dict[str, Callable[[Context], dict[str, Any]]] = {
    "waveform": _waveform,
    "spectrum": _spectrum,
    "psd": _psd,
    "features": _features,
    "zcr": _zcr,
    "mfcc": _mfcc,
    "chroma": _chroma,
    "onsets": _onsets,
    "overview": _overview,
}
if tuple(DRAWERS) != KINDS:  # pragma: no cover - a kind added to one table only
    raise ImportError(f"plots.KINDS {KINDS} and kinds.DRAWERS {tuple(DRAWERS)} differ")


def draw(job: PlotJob, path: str, info: AudioInfo, span: Span, title: str, target: Path) -> Drawn:
    """Draw ``job.kind`` for one file and save it to ``target``."""
    width, height = job.figure.size(job.kind, 1 if job.kind == "overview" else span.lanes)
    with render.figure(width, height, job.figure.dpi, job.figure.style, title) as fig:
        ctx = Context(
            fig, path, info, span, job.spectral, job.figure.style, job.figure.pixels_wide()
        )
        notes = DRAWERS[job.kind](ctx)
        w, h, panels = render.finish_figure(fig, target, job.output.replace)
    return Drawn(w, h, panels, notes)
