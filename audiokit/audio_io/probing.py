"""Probing: an audio file's header into :class:`~audiokit.audio_io.info.AudioInfo`, and
the guards against headers that lie (a WAV claiming more than the file holds, a FLAC
stream without a length, an Ogg without its last page)."""

from __future__ import annotations

import os
import stat
import struct
import warnings
from pathlib import Path

from audiokit import quiet, transcode
from audiokit.audio_io.info import (
    FFMPEG_AUDIO_EXTENSIONS,
    FFMPEG_VIDEO_EXTENSIONS,
    AudioInfo,
    DamagedAudioWarning,
)
from audiokit.audio_io.sndfile import _read_unseekable, _reason, _sf
from audiokit.errors import DecodeError, InputError

#: Bits per sample of libsndfile subtypes with a fixed width.
_SUBTYPE_BITS: dict[str, int] = {
    "PCM_S8": 8,
    "PCM_U8": 8,
    "PCM_16": 16,
    "PCM_24": 24,
    "PCM_32": 32,
    "FLOAT": 32,
    "DOUBLE": 64,
    "ULAW": 8,
    "ALAW": 8,
}

#: libsndfile reports a frame count this large when the header does not give one: a
#: FLAC stream written to a pipe by sox, ffmpeg or flac has 0 "total samples".
_UNKNOWN_FRAMES = 2**62

#: Placeholder data sizes that streaming writers (sox, ffmpeg) put in WAV headers.
_STREAMING_SIZES = (0, 0xFFFFFFFF)
_STREAMING_MIN = 0x7FFF0000


def _check_path(path: Path) -> int:
    """Return the file size, or raise InputError saying why the path is unusable."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError("no such file", str(path)) from None
    except PermissionError:
        raise InputError("permission denied", str(path)) from None
    except OSError as exc:
        raise InputError(exc.strerror or str(exc), str(path)) from None
    if path.is_dir():
        raise InputError("is a directory", str(path))
    if st.st_size == 0 and stat.S_ISREG(st.st_mode):
        raise DecodeError("empty file (0 bytes)", str(path))
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", str(path))
    return st.st_size


def _wav_declared_frames(path: Path, block_align: int) -> int | None:
    """Frames the WAV ``data`` chunk declares, or None when unknown or a streaming placeholder."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    fmt = "<I" if head[:4] == b"RIFF" else ">I"
    pos = 12
    while pos + 8 <= len(head):
        cid = head[pos : pos + 4]
        (size,) = struct.unpack(fmt, head[pos + 4 : pos + 8])
        if cid == b"data":
            if size in _STREAMING_SIZES or size >= _STREAMING_MIN or block_align <= 0:
                return None
            return size // block_align
        pos += 8 + size + (size & 1)
    return None


def probe(path: str | os.PathLike[str]) -> AudioInfo:
    """Read an audio file's header without decoding the samples.

    Parameters
    ----------
    path
        Path to an audio file.

    Returns
    -------
    AudioInfo

    Raises
    ------
    InputError
        The path does not exist, is a directory or cannot be read.
    DecodeError
        The file is empty, not audio, truncated or holds no samples.
    """
    p = Path(path)
    size = _check_path(p)
    sf = _sf()
    try:
        info = sf.info(str(p))
    except Exception as exc:  # libsndfile raises its own error types (and RuntimeError)
        if p.suffix.lower() in FFMPEG_AUDIO_EXTENSIONS | FFMPEG_VIDEO_EXTENSIONS:
            return _probe_with_ffmpeg(p, size, str(path))
        raise DecodeError(_reason(exc, p), str(path)) from None
    if info.samplerate <= 0 or info.channels <= 0:
        raise DecodeError("invalid header (no sample rate or channels)", str(path))
    frames, counted = int(info.frames), False
    notes: tuple[str, ...] = ()
    if frames >= _UNKNOWN_FRAMES:
        frames, counted = _count_frames(p, info.channels), True
    elif frames <= 0 and info.format in ("OGG", "FLAC"):
        # A truncated Ogg file lost the page that gives its length: count what decodes.
        frames = _count_frames(p, info.channels, tolerant=True)
        if frames > 0:
            counted = True
            notes = (
                f"damaged: the header gives no length; {frames / info.samplerate:.3f} s "
                "decode; read what is there",
            )
            warnings.warn(DamagedAudioWarning(notes[0]), stacklevel=2)
    if frames <= 0:
        raise DecodeError("no audio samples (header only)", str(path))
    bits = _SUBTYPE_BITS.get(info.subtype)
    if info.format in ("WAV", "WAVEX") and bits:
        declared = _wav_declared_frames(p, info.channels * bits // 8)
        if declared is not None and declared > info.frames:
            # Damaged, not bad (a recorder that lost power): read what is there, and say so.
            # What is allocated follows what is there, never what the header claims.
            notes = (
                f"damaged: the header declares {declared / info.samplerate:.3f} s but the "
                f"file holds {info.frames / info.samplerate:.3f} s; read what is there",
            )
            warnings.warn(DamagedAudioWarning(notes[0]), stacklevel=2)
    return AudioInfo(
        path=str(path),
        format=info.format,
        subtype=info.subtype,
        bit_depth=bits,
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        frames=frames,
        size_bytes=size,
        counted=counted,
        warnings=notes,
    )


def probe_quiet(path: str | os.PathLike[str]) -> AudioInfo | None:
    """:func:`probe` for hints (durations, memory estimates) in the main process: what a
    decoder prints is not shown, and a file that cannot be probed gives None (its task
    reports it)."""

    with quiet.captured():
        try:
            return probe(path)
        except (InputError, DecodeError):
            return None


def _probe_with_ffmpeg(p: Path, size: int, name: str) -> AudioInfo:
    """Decode ``p`` with ffmpeg into a temporary WAV and describe it (see :mod:`transcode`)."""

    decoded = transcode.decode(p)
    try:
        info = _sf().info(decoded.wav)
    except Exception as exc:
        raise DecodeError(_reason(exc, p), name) from None
    if info.frames <= 0:
        raise DecodeError("no audio samples", name)
    return AudioInfo(
        path=name,
        format=p.suffix.lstrip(".").upper(),
        subtype=decoded.codec,
        bit_depth=None,
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(info.frames),
        size_bytes=size,
        source=decoded.wav,
    )


def _count_frames(path: Path, channels: int, tolerant: bool = False) -> int:
    """Frames in a file whose header gives no length, counted by decoding it.

    ``tolerant``: a decoding error ends the count (a damaged file: what decoded counts).
    """
    sf = _sf()
    total = 0
    try:
        with sf.SoundFile(str(path)) as fh:
            while len(block := _read_unseekable(fh, 1 << 16)):
                total += len(block)
    except Exception as exc:
        if not (tolerant and total):
            raise DecodeError(_reason(exc, path), str(path)) from None
    return total
