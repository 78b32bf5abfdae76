"""What a file is and how loud it is: the service behind ``audiokit inspect``.

Levels are measured in one streaming pass (bounded memory, any duration)
with :class:`LevelMeter`; the same numbers come out of :func:`measure_levels`
for an array already in memory.

Conventions (as sox's ``stat``/``stats``):

- dBFS is ``20 * log10(x)`` with full scale at 1.0, so a full-scale sine has
  an RMS of -3.01 dBFS. Digital silence is ``-inf`` dBFS.
- A sample is *clipped* when it sits at full scale: at or beyond the largest
  code of its PCM bit depth, or at ``|x| >= 1`` for float and lossy files.
- A frame is *silent* when its RMS is below ``silence_db`` (default -60 dBFS);
  frames are non-overlapping, ``frame_ms`` long (default 20 ms).

With ``loudness=True`` the same pass also measures :class:`Loudness`: BS.1770
integrated loudness, EBU Tech 3342 loudness range and true peak
(:mod:`audiokit.bs1770`, which needs scipy's compiled filter kernel, so it is
loaded only then), and the noise floor and SNR estimated from the same 20 ms
frames (:class:`~audiokit.dsp.levels.FrameLevels`):

- ``noise_floor_dbfs`` is the 10th percentile of the RMS (dBFS) of the complete
  frames, frames of digital silence (all samples 0) left out; ``-inf`` when every
  frame is digital silence, NaN without a complete frame.
- ``snr_db`` is the 90th percentile of the same frame levels minus the noise floor
  (the loud frames against the quiet ones); NaN when the floor is not finite.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from audiokit import audio_io
from audiokit.audio_io import AudioInfo
from audiokit.dsp.levels import FrameLevels, PeakRms, db

if TYPE_CHECKING:
    import numpy as np

    from audiokit.bs1770 import ProgrammeLoudness
    from audiokit.inputs import Input

DEFAULT_SILENCE_DB = -60.0
DEFAULT_FRAME_MS = 20.0
#: Percentiles of the frame levels taken as the noise floor and as the active level.
NOISE_PERCENTILE = 10.0
ACTIVE_PERCENTILE = 90.0


#: The columns of inspect's rows and their Parquet types (columns that can be null for some
#: files need a fixed type); ``check`` rules name them.
ROW_TYPES = {
    "path": "string",
    "format": "string",
    "subtype": "string",
    "bit_depth": "int32",
    "samplerate": "int32",
    "channels": "int32",
    "frames": "int64",
    "duration": "float64",
    "size_bytes": "int64",
    "bitrate": "float64",
    "channel": "int32",
    "peak_dbfs": "float64",
    "rms_dbfs": "float64",
    "crest_factor_db": "float64",
    "dc_offset": "float64",
    "clipped_fraction": "float64",
    "silent_fraction": "float64",
    "loudness_lufs": "float64",
    "loudness_range_lu": "float64",
    "true_peak_dbtp": "float64",
    "noise_floor_dbfs": "float64",
    "snr_db": "float64",
    "warnings": "list<string>",
}


LEVEL_KEYS = [
    "peak_dbfs",
    "rms_dbfs",
    "crest_factor_db",
    "dc_offset",
    "clipped_fraction",
    "silent_fraction",
]
#: The columns of ``--loudness`` (names relied on by ``check`` and ``report``).
LOUDNESS_KEYS = [
    "loudness_lufs",
    "loudness_range_lu",
    "true_peak_dbtp",
    "noise_floor_dbfs",
    "snr_db",
]


def clip_threshold(bit_depth: int | None, subtype: str) -> float:
    """The magnitude at or above which a sample counts as clipped."""
    if bit_depth and subtype.startswith("PCM"):
        return (2 ** (bit_depth - 1) - 1) / 2 ** (bit_depth - 1)
    return 1.0


@dataclass(frozen=True)
class Levels:
    """Level statistics of one channel (or of all channels together).

    Attributes
    ----------
    peak : float
        Largest absolute sample value (linear, full scale 1.0).
    rms : float
        Root mean square (linear).
    dc_offset : float
        Mean sample value.
    clipped_fraction : float
        Fraction of samples at full scale.
    silent_fraction : float
        Fraction of frames below the silence threshold.
    """

    peak: float
    rms: float
    dc_offset: float
    clipped_fraction: float
    silent_fraction: float

    @property
    def peak_dbfs(self) -> float:
        return db(self.peak)

    @property
    def rms_dbfs(self) -> float:
        return db(self.rms)

    @property
    def crest_factor_db(self) -> float:
        """Peak-to-RMS ratio in dB (NaN for silence)."""
        return db(self.peak) - db(self.rms) if self.rms > 0 else math.nan

    def as_dict(self) -> dict[str, float]:
        """The reported fields, in output order."""
        return {
            "peak_dbfs": self.peak_dbfs,
            "rms_dbfs": self.rms_dbfs,
            "crest_factor_db": self.crest_factor_db,
            "dc_offset": self.dc_offset,
            "clipped_fraction": self.clipped_fraction,
            "silent_fraction": self.silent_fraction,
        }


@dataclass(frozen=True)
class Loudness:
    """Loudness and quality of one channel (as mono) or of the programme (all channels).

    The attribute names are the column names.

    Attributes
    ----------
    loudness_lufs : float
        BS.1770-4 integrated loudness (NaN: shorter than 400 ms, or silent).
    loudness_range_lu : float
        EBU Tech 3342 loudness range (NaN: no 3 s window above the gates).
    true_peak_dbtp : float
        Peak of the signal oversampled 4x (``-inf`` for silence).
    noise_floor_dbfs : float
        10th percentile of the 20 ms frame RMS, digital silence left out.
    snr_db : float
        90th percentile of the frame RMS minus the noise floor.
    """

    loudness_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    noise_floor_dbfs: float
    snr_db: float

    def as_dict(self) -> dict[str, float]:
        """The reported fields, in output order."""
        return _fields(self)


def _loudness(meter: ProgrammeLoudness, frames: FrameLevels, channel: int | None) -> Loudness:
    floor = frames.percentile(NOISE_PERCENTILE, channel)
    active = frames.percentile(ACTIVE_PERCENTILE, channel)
    return Loudness(
        loudness_lufs=meter.integrated_lufs,
        loudness_range_lu=meter.range_lu,
        true_peak_dbtp=meter.true_peak_dbtp,
        noise_floor_dbfs=floor,
        snr_db=active - floor if math.isfinite(floor) else math.nan,
    )


class LevelMeter:
    """Accumulate :class:`Levels` over blocks of samples.

    Parameters
    ----------
    channels
        Number of channels in every block.
    samplerate
        Sample rate in Hz (sets the silence frame length).
    clip_level
        Magnitude at or above which a sample is clipped.
    silence_db
        A frame whose RMS is below this (dBFS) is silent.
    frame_ms
        Silence frame length in milliseconds.
    frame_levels
        Also keep a histogram of the levels of the complete frames (:attr:`frame_levels`).
    """

    def __init__(
        self,
        channels: int,
        samplerate: int,
        clip_level: float = 1.0,
        silence_db: float = DEFAULT_SILENCE_DB,
        frame_ms: float = DEFAULT_FRAME_MS,
        frame_levels: bool = False,
    ) -> None:
        import numpy as np

        self.frame_levels = FrameLevels(channels) if frame_levels else None
        self.channels = channels
        self.frame = max(1, int(round(samplerate * frame_ms / 1000.0)))
        self.clip_level = clip_level
        self.silence_power = 10.0 ** (silence_db / 10.0)
        self.meter = PeakRms(channels)
        self.clipped = np.zeros(channels, dtype=np.int64)
        self.frames = 0
        self.silent = np.zeros(channels, dtype=np.int64)
        self.silent_all = 0
        self._rest = np.zeros((0, channels), dtype=np.float32)

    def update(self, block: np.ndarray) -> None:
        """Add a block of shape ``(frames, channels)``."""
        import numpy as np

        if block.size == 0:
            return
        x = self.meter.update(block)
        self.clipped += (np.abs(x) >= self.clip_level).sum(axis=0)
        # Silence frames: complete frames only; the remainder waits for the next block.
        buf = np.concatenate([self._rest, block]) if len(self._rest) else block
        whole = len(buf) // self.frame * self.frame
        if whole:
            self._count_frames(buf[:whole])
        self._rest = np.array(buf[whole:], dtype=np.float32)

    def _count_frames(self, buf: np.ndarray) -> None:
        import numpy as np

        fr = buf.reshape(-1, self.frame, self.channels).astype(np.float64)
        power = (fr * fr).mean(axis=1)  # (n_frames, channels)
        self.frames += len(power)
        self.silent += (power < self.silence_power).sum(axis=0)
        self.silent_all += int((power.mean(axis=1) < self.silence_power).sum())
        if self.frame_levels is not None:
            self.frame_levels.add(power)

    def result(self) -> tuple[Levels, list[Levels]]:
        """Levels over all channels, and per channel.

        A trailing partial frame counts as a frame of its own.
        """
        import numpy as np

        if len(self._rest):
            tail = self._rest.astype(np.float64)
            power = (tail * tail).mean(axis=0)
            self.frames += 1
            self.silent += power < self.silence_power
            self.silent_all += int(power.mean() < self.silence_power)
            self._rest = self._rest[:0]
        m = self.meter
        n = max(m.n, 1)
        frames = max(self.frames, 1)
        per = [
            Levels(
                peak=float(m.peak[c]),
                rms=m.channel_rms(c),
                dc_offset=float(m.sum[c] / n),
                clipped_fraction=float(self.clipped[c] / n),
                silent_fraction=float(self.silent[c] / frames),
            )
            for c in range(self.channels)
        ]
        total = Levels(
            peak=m.total_peak,
            rms=m.total_rms,
            dc_offset=float(m.sum.sum() / (n * self.channels)),
            clipped_fraction=float(self.clipped.sum() / (n * self.channels)),
            silent_fraction=float(self.silent_all / frames),
        )
        return total, per


def measure_levels(
    y: np.ndarray,
    sr: int,
    clip_level: float = 1.0,
    silence_db: float = DEFAULT_SILENCE_DB,
    frame_ms: float = DEFAULT_FRAME_MS,
) -> tuple[Levels, list[Levels]]:
    """Levels of an array in memory.

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
    sr : int

    Returns
    -------
    total : Levels
        Over all channels.
    per_channel : list of Levels
    """
    import numpy as np

    block = np.atleast_2d(y).T
    meter = LevelMeter(block.shape[1], sr, clip_level, silence_db, frame_ms)
    meter.update(block)
    return meter.result()


@dataclass(frozen=True)
class InspectResult:
    """What ``inspect`` reports for one file.

    Attributes
    ----------
    info : AudioInfo
        Header facts.
    levels : Levels or None
        Over all channels (None with ``levels=False``).
    channel_levels : list of Levels
        One per channel (empty with ``levels=False``).
    loudness : Loudness or None
        Of the programme (only with ``loudness=True``).
    channel_loudness : list of Loudness
        Each channel measured as mono (empty without ``loudness=True``).
    """

    info: AudioInfo
    levels: Levels | None = None
    channel_levels: list[Levels] = field(default_factory=list)
    loudness: Loudness | None = None
    channel_loudness: list[Loudness] = field(default_factory=list)

    def lanes(self) -> list[dict[str, float]]:
        """Per channel: its levels, then its loudness (if measured)."""
        out = [lv.as_dict() for lv in self.channel_levels]
        for lane, ld in zip(out, self.channel_loudness, strict=False):
            lane.update(ld.as_dict())
        return out

    def row(self) -> dict[str, Any]:
        """One flat row: file facts, then overall levels (if measured)."""
        i = self.info
        out: dict[str, Any] = {
            "path": i.path,
            "format": i.format,
            "subtype": i.subtype,
            "bit_depth": i.bit_depth,
            "samplerate": i.samplerate,
            "channels": i.channels,
            "frames": i.frames,
            "duration": i.duration,
            "size_bytes": i.size_bytes,
            "bitrate": i.bitrate,
            "warnings": list(i.warnings),
        }
        if self.levels is not None:
            out.update(self.levels.as_dict())
        if self.loudness is not None:
            out.update(self.loudness.as_dict())
        return out

    def channel_rows(self) -> list[dict[str, Any]]:
        """One row per channel: the file facts, a ``channel`` index and that channel's levels."""
        base = self.row()
        return [{**base, "channel": c, **lane} for c, lane in enumerate(self.lanes())]

    def as_json(self) -> dict[str, Any]:
        """The row, plus a ``channel_levels`` list for multichannel files."""
        out = self.row()
        if self.levels is not None and self.info.channels > 1:
            out["channel_levels"] = self.lanes()
        return out


def inspect_file(
    path: str,
    levels: bool = True,
    silence_db: float = DEFAULT_SILENCE_DB,
    frame_ms: float = DEFAULT_FRAME_MS,
    display: str | None = None,
    blocksize: int = 1 << 16,
    start: float = 0.0,
    duration: float | None = None,
    loudness: bool = False,
) -> InspectResult:
    """Probe a file and (optionally) measure its levels in one streaming pass.

    Parameters
    ----------
    path
        Audio file.
    levels
        Decode the samples and measure levels; False reads the header only.
    silence_db, frame_ms
        Silence threshold (dBFS) and frame length (ms) for ``silent_fraction``.
    display
        Name to report instead of ``path`` (e.g. ``-`` for standard input).
    blocksize
        Frames decoded at a time (memory is bounded by this, not the duration).
    start, duration
        Measure the levels of this span (seconds); the header facts are the file's.
    loudness
        Also measure :class:`Loudness` in the same pass (needs ``levels``; loads scipy's
        filter kernel).
    """
    info = audio_io.probe(path)
    if display is not None:
        info = replace(info, path=display)
    if not levels:
        return InspectResult(info)
    meter = LevelMeter(
        info.channels,
        info.samplerate,
        clip_threshold(info.bit_depth, info.subtype),
        silence_db,
        frame_ms,
        frame_levels=loudness,
    )
    meters: list[Any] = [meter]
    if loudness:
        from audiokit.bs1770 import LoudnessMeter  # scipy's kernel: only when asked

        meters.append(LoudnessMeter(info.samplerate, info.channels))
    first, last = audio_io.span_frames(info, start, duration)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", audio_io.DamagedAudioWarning)
        for block in audio_io.iter_blocks(path, blocksize, info, first, last):
            for m in meters:
                m.update(block)
    found = [str(w.message) for w in caught if issubclass(w.category, audio_io.DamagedAudioWarning)]
    for text in found:  # for the batch's warning line, and for the warnings column
        warnings.warn(audio_io.DamagedAudioWarning(text), stacklevel=2)
    if found:
        info = replace(info, warnings=(*info.warnings, *found))
    total, per = meter.result()
    if not loudness:
        return InspectResult(info, total, per)
    assert meter.frame_levels is not None
    programme, channels = meters[1].result()
    return InspectResult(
        info,
        total,
        per,
        _loudness(programme, meter.frame_levels, None),
        [_loudness(ch, meter.frame_levels, c) for c, ch in enumerate(channels)],
    )


def inspect_input(
    inp: Input,
    *,
    levels: bool = True,
    silence_db: float = DEFAULT_SILENCE_DB,
    start: float = 0.0,
    duration: float | None = None,
    loudness: bool = False,
) -> InspectResult:
    """:func:`inspect_file` of a batch input (its display name kept): the batch task of
    ``inspect``, bound with :func:`functools.partial`."""
    return inspect_file(
        inp.path,
        levels=levels,
        silence_db=silence_db,
        display=inp.display,
        start=start,
        duration=duration,
        loudness=loudness,
    )


def inspect_row(inp: Input, **options: Any) -> dict[str, Any]:
    """The row of :func:`inspect_input` (the task of ``check`` and ``report``)."""
    return inspect_input(inp, **options).row()


def _fields(obj: Any) -> dict[str, Any]:
    """A flat dataclass's fields by name, in order (``asdict`` without its deep copies)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}
