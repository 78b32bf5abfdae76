"""``audiokit spectrogram``: a dB spectrogram computed block-wise, drawn, and optionally saved.

The STFT is computed in one streaming pass (exactly librosa's frames,
``center=True`` with zero padding); its power is mean-pooled over groups of
consecutive frames so that at most ``max_columns`` columns are kept, which
bounds memory for any file length. Magnitudes are in dB relative to the
maximum over all drawn channels (``librosa.amplitude_to_db(|S|, ref=np.max)``;
mel: ``power_to_db`` of the mel power, ``ref=np.max``), floored at ``-top_db``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiokit import arrow, writers
from audiokit.dsp import effects, filters
from audiokit.errors import InputError
from audiokit.output import files
from audiokit.plots import figures, render, sources, spectra
from audiokit.plots.options import SpectralOptions, SpectrogramJob
from audiokit.plots.render import Drawn

if TYPE_CHECKING:
    from audiokit.audio_io import AudioInfo
    from audiokit.plots.sources import Span

DATA_SUFFIXES = (".npy", ".parquet")


@dataclass(frozen=True)
class SpecMatrix:
    """A dB spectrogram ready to draw.

    Attributes
    ----------
    db : np.ndarray, shape (lanes, rows, cols), float32
        dB relative to the maximum, in ``[-top_db, 0]``.
    freqs : np.ndarray, shape (rows,)
        Centre frequency of each row in Hz (STFT bin or mel filter centre).
    freq_edges : np.ndarray, shape (rows + 1,)
        Row edges in Hz as drawn.
    times : np.ndarray, shape (cols,)
        Centre time of each column in seconds (from the file's start).
    time_edges : np.ndarray, shape (cols + 1,)
    pool : int
        STFT frames averaged (power mean) into each column.
    scale : str
        ``linear``, ``log`` or ``mel``.
    """

    db: np.ndarray
    freqs: np.ndarray
    freq_edges: np.ndarray
    times: np.ndarray
    time_edges: np.ndarray
    pool: int
    scale: str


def rows_of(
    power: np.ndarray, sr: int, sp: SpectralOptions, scale: str, path: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick (linear, log) or compute (mel) the frequency rows of a power spectrogram.

    Returns
    -------
    power_rows : np.ndarray, shape (lanes, rows, cols)
    freqs : np.ndarray, shape (rows,)
    edges : np.ndarray, shape (rows + 1,)
    """

    n_fft = sp.stft.n_fft
    fmax = min(sp.fmax, sr / 2) if sp.fmax else sr / 2
    if sp.fmin >= fmax:
        raise InputError(f"--fmin {sp.fmin:g} Hz is not below {fmax:g} Hz at {sr} Hz", path)
    if scale == "mel":
        rows = spectra.mel_power(power, sr, n_fft, sp.n_mels, sp.fmin, fmax)
        freqs = filters.mel_frequencies(sp.n_mels + 2, fmin=sp.fmin, fmax=fmax)[1:-1]
        return rows, np.asarray(freqs), spectra.mel_band_edges(sp.n_mels, sp.fmin, fmax)
    centres = np.arange(1 + n_fft // 2) * sr / n_fft
    keep = (centres >= sp.fmin) & (centres <= fmax)
    if scale == "log":
        keep[0] = False
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise InputError("--fmin/--fmax select no frequency bins at this sample rate", path)
    k0, k1 = int(idx[0]), int(idx[-1])
    edges = spectra.linear_bin_edges(n_fft, sr)[k0 : k1 + 2]
    return power[:, k0 : k1 + 1], centres[k0 : k1 + 1], edges


def compute(
    path: str,
    info: AudioInfo,
    span: Span,
    sp: SpectralOptions,
    scale: str,
    max_columns: int,
    preemphasis: float | None = None,
) -> list[SpecMatrix]:
    """Stream a span once and return its spectrogram (and its pre-emphasised one).

    Parameters
    ----------
    max_columns
        Most time columns (0: one per STFT frame).
    preemphasis
        Coefficient of the pre-emphasis (as ``librosa.effects.preemphasis``); adds a
        second matrix.

    Returns
    -------
    list of SpecMatrix: ``[original]`` or ``[original, pre-emphasised]``.
    """
    st = sp.stft
    pool = spectra.pool_factor(span.frames, st.hop_length, max_columns)
    accs = [spectra.PooledStft(st, span.lanes, pool)]
    if preemphasis is not None:
        accs.append(spectra.PooledStft(st, span.lanes, pool))
    zf: Any = None
    for block in sources.iter_lanes(path, info, span):
        accs[0].feed(block)
        if preemphasis is not None:
            filtered, zf = effects.preemphasis(block, coef=preemphasis, zi=zf, return_zf=True)
            accs[1].feed(filtered)
    out = []
    for acc in accs:
        power = acc.finish()
        rows, freqs, edges = rows_of(power, span.sr, sp, scale, info.path)
        t_edges = (
            spectra.frame_edges(
                power.shape[-1], pool, acc.frames, st.hop_length, span.sr, span.duration
            )
            + span.offset
        )
        out.append(
            SpecMatrix(
                spectra.power_to_db(rows, sp.top_db),
                freqs,
                edges,
                (t_edges[:-1] + t_edges[1:]) / 2,
                t_edges,
                pool,
                scale,
            )
        )
    return out


def write_data(m: SpecMatrix, target: Path, meta: dict[str, str], overwrite: bool) -> None:
    """Save the drawn matrix atomically (see :func:`write_data_to`)."""
    with writers.atomic_path(target, overwrite=overwrite) as tmp:
        write_data_to(m, tmp, meta, target.suffix.lower())


def write_data_to(m: SpecMatrix, tmp: Path, meta: dict[str, str], suffix: str) -> None:
    """Write the drawn matrix: ``.npy`` (shape (rows, cols), or (lanes, rows, cols)) or
    ``.parquet`` (long format: [channel,] time, frequency, db; float32)."""

    data = m.db[0] if m.db.shape[0] == 1 else m.db
    if suffix == ".npy":
        with open(tmp, "wb") as fh:
            np.save(fh, data)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    lanes, rows, cols = m.db.shape
    t = np.tile(m.times.astype(np.float32), rows * lanes)
    f = np.tile(np.repeat(m.freqs.astype(np.float32), cols), lanes)
    table: dict[str, Any] = {"time": t, "frequency": f, "db": m.db.reshape(-1)}
    if lanes > 1:
        table = {"channel": np.repeat(np.arange(lanes, dtype=np.int16), rows * cols), **table}
    tab = pa.Table.from_arrays(
        [arrow.numpy_column(v) for v in table.values()], names=list(table)
    ).replace_schema_metadata({f"audiokit.{k}": str(v) for k, v in meta.items()})
    pq.write_table(tab, tmp, compression="zstd")


def draw(
    job: SpectrogramJob,
    path: str,
    info: AudioInfo,
    span: Span,
    title: str,
    target: Path,
    data_target: Path | None,
) -> Drawn:
    """Compute, draw and save the spectrogram of one file (and its matrix with ``--data``)."""
    fo, sp = job.figure, job.spectral
    cols = fo.pixels_wide() if sp.max_columns is None else sp.max_columns
    mats = compute(path, info, span, sp, job.scale, cols, job.preemphasis)
    # The image and its matrix are one output: both are committed, or neither.
    staged: list[tuple[Path, Path]] = []
    try:
        with files.signals_held():  # a stop signal must find them recorded
            staged.append((files.temp_path(target), target))
            if data_target is not None:
                staged.append((files.temp_path(data_target), data_target))
        return _draw_staged(job, info, span, title, mats, staged)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        raise


def _draw_staged(
    job: SpectrogramJob,
    info: AudioInfo,
    span: Span,
    title: str,
    mats: list[SpecMatrix],
    staged: list[tuple[Path, Path]],
) -> Drawn:
    fo, sp = job.figure, job.spectral
    panels_per_lane = len(mats)
    width, height = fo.size("spectrogram", span.lanes * panels_per_lane)
    labels = [""]
    if job.preemphasis is not None:
        labels = ["original", f"pre-emphasis {job.preemphasis:g}"]
    with render.figure(width, height, fo.dpi, fo.style, title) as fig:
        axes = render.stack(fig, span.lanes * panels_per_lane, colorbar=True)
        mesh = None
        k = 0
        for lane, name in enumerate(span.lane_names()):
            for m, extra in zip(mats, labels, strict=True):
                ax = axes[k]
                text = " · ".join(s for s in (name, extra) if s)
                mesh = figures.heatmap(
                    m.db[lane],
                    m.time_edges,
                    m.freq_edges,
                    ax=ax,
                    cmap=sp.cmap or "magma",
                    yscale=job.scale,
                    vmin=-sp.top_db,
                    vmax=0.0,
                    label=text,
                )
                render.register(
                    ax, "preemphasis" if extra.startswith("pre") else "spectrogram", job.scale
                )
                render.time_axis(
                    ax, span.offset, span.offset + span.duration, label=k == len(axes) - 1
                )
                k += 1
        assert mesh is not None
        render.colorbar(fig, mesh, axes, "dB re max", "%+2.0f dB")
        render.write_png(fig, *staged[0])
        w, h = (int(v) for v in fig.canvas.get_width_height(physical=True))
        panels = tuple(render.panels(fig))
    if len(staged) > 1:
        meta = {
            "sr": span.sr,
            "n_fft": sp.stft.n_fft,
            "hop_length": sp.stft.hop_length,
            "window": sp.stft.window,
            "scale": job.scale,
            "pool": mats[-1].pool,
            "top_db": sp.top_db,
            "n_mels": sp.n_mels if job.scale == "mel" else "",
            "preemphasis": "" if job.preemphasis is None else job.preemphasis,
            "start": span.offset,
            "duration": span.duration,
        }
        meta_text = {k: str(v) for k, v in meta.items()}
        try:
            write_data_to(mats[-1], staged[1][0], meta_text, staged[1][1].suffix.lower())
        except OSError as exc:
            raise files.os_error(exc, staged[1][1]) from None
    files.commit_set(staged, replace=job.output.replace)
    return Drawn(
        w,
        h,
        panels,
        {
            "pool": mats[0].pool,
            "columns": int(mats[0].db.shape[-1]),
            "rows": int(mats[0].db.shape[1]),
        },
    )
