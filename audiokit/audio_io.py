"""Opening audio files: the only module that decodes audio.

Functions here turn paths into :class:`AudioInfo` (header facts) and numpy
arrays, and translate every decoder failure into a :class:`DecodeError` with
a one-line reason. Guards against lying headers live here too: a header
that claims gigabytes never makes audiokit allocate gigabytes.

Array conventions follow librosa: mono audio has shape ``(n,)``, multichannel
audio ``(channels, n)``, dtype float32 in [-1, 1].
"""

from __future__ import annotations

import math
import os
import stat
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiokit import quiet, transcode
from audiokit.errors import DecodeError, InputError, UsageError

if TYPE_CHECKING:
    import numpy as np

#: File extensions audiokit treats as audio when it walks directories.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {
        ".wav",
        ".wave",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".mp3",
        ".aif",
        ".aiff",
        ".aifc",
        ".au",
        ".snd",
        ".caf",
        ".w64",
        ".rf64",
        ".voc",
    }
)
#: Audio containers libsndfile cannot read, decoded through ffmpeg (:mod:`audiokit.transcode`).
FFMPEG_AUDIO_EXTENSIONS: frozenset[str] = frozenset(
    {".m4a", ".m4b", ".aac", ".wma", ".mka", ".ac3", ".amr", ".wv", ".ape"}
)
#: Video containers whose sound is decoded through ffmpeg when named as inputs.
FFMPEG_VIDEO_EXTENSIONS: frozenset[str] = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi"})
#: What directory walks pick up.
WALK_EXTENSIONS: frozenset[str] = AUDIO_EXTENSIONS | FFMPEG_AUDIO_EXTENSIONS

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

#: Above this many decoded bytes a header's frame count is checked for plausibility
#: against the file size before anything is allocated.
_TRUST_HEADER_BYTES = 64 * 2**20

#: libsndfile reports a frame count this large when the header does not give one: a
#: FLAC stream written to a pipe by sox, ffmpeg or flac has 0 "total samples".
_UNKNOWN_FRAMES = 2**62

#: Placeholder data sizes that streaming writers (sox, ffmpeg) put in WAV headers.
_STREAMING_SIZES = (0, 0xFFFFFFFF)
_STREAMING_MIN = 0x7FFF0000


@dataclass(frozen=True)
class AudioInfo:
    """Facts from an audio file's header.

    Attributes
    ----------
    path : str
        The path as given (``-`` for standard input).
    format : str
        Container, e.g. ``WAV``, ``FLAC``, ``OGG``.
    subtype : str
        Sample encoding, e.g. ``PCM_16``, ``FLOAT``, ``VORBIS``.
    bit_depth : int or None
        Bits per sample for PCM/float encodings, None for lossy codecs.
    samplerate : int
        Sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Samples per channel.
    size_bytes : int
        File size in bytes.
    counted : bool
        The header gives no length (a FLAC stream written to a pipe): ``frames``
        was counted by decoding the file, and readers decode it front to back
        (libsndfile cannot seek in it).
    source : str or None
        For containers libsndfile cannot read (M4A, WMA...): the temporary
        16-bit WAV that ffmpeg decoded, which the readers read instead.
    """

    path: str
    format: str
    subtype: str
    bit_depth: int | None
    samplerate: int
    channels: int
    frames: int
    size_bytes: int
    counted: bool = False
    source: str | None = None
    warnings: tuple[str, ...] = ()
    """What is wrong with a file that is still read (a header claiming more than is there)."""

    @property
    def duration(self) -> float:
        """Duration in seconds."""
        return self.frames / self.samplerate if self.samplerate else 0.0

    @property
    def bitrate(self) -> float | None:
        """Average bits per second over the whole file (container included)."""
        return self.size_bytes * 8 / self.duration if self.duration > 0 else None


#: ``--channel mix``: every channel, averaged.
MIX = "mix"


def parse_channel(text: str | None) -> int | str | None:
    """``--channel`` value: None, ``mix``, or a 0-based index.

    Raises
    ------
    UsageError
    """
    if text is None:
        return None
    t = text.strip().lower()
    if t in ("mix", "mono"):
        return MIX
    if t in ("l", "left"):
        return 0
    if t in ("r", "right"):
        return 1
    try:
        c = int(t)
    except ValueError:
        raise UsageError(
            f"--channel {text!r}: give a channel number (0, 1, ...), L, R or mix"
        ) from None
    if c < 0:
        raise UsageError("--channel counts from 0")
    return c


class DamagedAudioWarning(UserWarning):
    """A file is damaged but readable: audiokit reads what is there (``--strict``: fails)."""


def _sf() -> Any:
    import soundfile

    return soundfile


def _reason(exc: BaseException, path: str | os.PathLike[str]) -> str:
    """Turn a libsndfile/OS error into a short reason without the path repeated."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    p = str(path)
    for prefix in (f"Error opening {p!r}: ", f"Error opening '{p}': ", "Error : "):
        text = text.replace(prefix, "")
    if "Format not recognised" in text or "unknown format" in text.lower():
        return "not a recognised audio format (corrupt, or not audio)"
    # libsndfile's words for a damaged file, about its own internals or about the wrong
    # thing ("File does not exist or is not a regular file" for a file that exists):
    damaged = ("psf_", "Internal ", "does not exist or is not a regular file", "Unspecified")
    if any(d in text for d in damaged) and Path(p).is_file():
        return f"damaged or not decodable (libsndfile: {text.rstrip('.')})"
    return text.rstrip(".")


def _words(exc: BaseException) -> str:
    """A decoder's own words, on one line."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.removeprefix("Error : ").rstrip(".")


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


def _raw_reader(fh: Any) -> tuple[Any, Any] | None:
    """soundfile's private cffi handles ``(_snd, _ffi)`` when they are as expected, else None."""
    import soundfile

    snd, ffi = getattr(soundfile, "_snd", None), getattr(soundfile, "_ffi", None)
    if getattr(fh, "_file", None) is None or ffi is None or not hasattr(ffi, "cast"):
        return None
    if not all(hasattr(snd, f) for f in ("sf_readf_float", "sf_error", "sf_error_number")):
        return None
    return snd, ffi


def _read_unseekable(fh: Any, n: int) -> np.ndarray:
    """Up to ``n`` frames from the current position, without the seek soundfile adds.

    ``SoundFile.read`` (and ``buffer_read``) seek to where they think the read
    ended, which fails in a FLAC stream without a length; libsndfile's own
    reader needs no seek. It is reached through soundfile's private cffi
    handles; where those are not as expected (another soundfile), the public
    ``read`` is the fallback, which decodes every file with a length and stops
    with libsndfile's error in a stream without one.
    """
    import numpy as np

    raw = _raw_reader(fh)
    if raw is None:
        return np.asarray(fh.read(n, dtype="float32", always_2d=True))
    snd, ffi = raw
    out = np.empty((n, fh.channels), dtype=np.float32)
    got = snd.sf_readf_float(fh._file, ffi.cast("float *", out.ctypes.data), n)
    err = snd.sf_error(fh._file)
    if err:
        raise RuntimeError(ffi.string(snd.sf_error_number(err)).decode("utf-8", "replace"))
    return out[: max(int(got), 0)]


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


def _plausible_frames(info: AudioInfo) -> int:
    """An upper bound on the frames a file of this size can really hold."""
    if info.bit_depth and info.format in ("WAV", "WAVEX", "AIFF", "AU", "W64", "RF64", "CAF"):
        return info.size_bytes * 8 // (info.bit_depth * info.channels) + 1
    # Compressed formats: FLAC of digital silence reaches ~1000:1, nothing real exceeds 4096:1.
    return info.size_bytes * 4096 // max(info.channels, 1) + 1


def _finite_or_raise(block: np.ndarray, info: AudioInfo) -> None:
    import numpy as np

    if info.subtype in ("FLOAT", "DOUBLE") and not np.isfinite(block).all():
        raise DecodeError("contains NaN or infinite samples", info.path)


def iter_blocks(
    path: str | os.PathLike[str],
    blocksize: int = 65536,
    info: AudioInfo | None = None,
    start: int = 0,
    stop: int | None = None,
) -> Iterator[np.ndarray]:
    """Decode a file block by block, in bounded memory.

    Parameters
    ----------
    path
        Audio file.
    blocksize
        Frames per block (the last block may be shorter).
    info
        The file's :func:`probe` result, if already known.
    start, stop
        Frame range to read (``stop=None``: to the end).

    Yields
    ------
    np.ndarray, shape (frames, channels), float32
        Interleaved blocks as libsndfile returns them (always 2-D).
    """
    info = info or probe(path)
    try:
        yield from _blocks(path, blocksize, info, start, stop)
    except DecodeError:
        raise
    except Exception as exc:
        raise DecodeError(_reason(exc, path), info.path) from None


def _blocks(
    path: str | os.PathLike[str], blocksize: int, info: AudioInfo, start: int, stop: int | None
) -> Iterator[np.ndarray]:
    """:func:`iter_blocks`; on a decoding error, reads again in smaller steps up to the
    damage and keeps what decodes (a truncated FLAC), with a warning."""
    sf = _sf()
    end = stop if stop is not None else info.frames
    done, size = 0, blocksize
    fh = sf.SoundFile(info.source or str(path))
    try:
        if start and info.counted:  # no seeking: decode up to the start
            skip = start
            while skip > 0 and len(block := _read_unseekable(fh, min(skip, 1 << 16))):
                skip -= len(block)
        elif start:
            fh.seek(start)
        while start + done < end:
            want = min(size, end - start - done)
            try:
                if info.counted:
                    block = _read_unseekable(fh, want)
                else:
                    block = fh.read(want, dtype="float32", always_2d=True)
            except Exception as exc:
                if not info.counted and size > 4096:  # find the damage in smaller steps
                    fh.close()
                    fh = sf.SoundFile(info.source or str(path))
                    fh.seek(start + done)
                    size = max(4096, size // 16)
                    continue
                if done == 0:
                    raise
                at = (start + done) / info.samplerate
                warnings.warn(
                    DamagedAudioWarning(
                        f"damaged: decoding stopped at {at:.3f} s of {info.duration:.3f} s "
                        f"({_words(exc)}); read what is there"
                    ),
                    stacklevel=3,
                )
                return
            if len(block) == 0:
                break
            _finite_or_raise(block, info)
            done += len(block)
            yield block
    finally:
        fh.close()


def span_frames(
    info: AudioInfo, start: float = 0.0, duration: float | None = None
) -> tuple[int, int]:
    """The frames ``[first, last)`` of ``--start``/``--duration`` (seconds), within the file.

    Raises
    ------
    InputError
        A start at or past the end of the file.
    """
    sr = info.samplerate
    first = min(max(int(round(start * sr)), 0), info.frames)
    last = info.frames if duration is None else min(info.frames, first + int(round(duration * sr)))
    if start > 0 and first >= info.frames:
        raise InputError(f"--start {start:g} s is past the end ({info.duration:.3f} s)", info.path)
    return first, last


def read(
    path: str | os.PathLike[str],
    info: AudioInfo | None = None,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode a file (or a span of it) at its native rate.

    Parameters
    ----------
    path
        Audio file.
    info
        The file's :func:`probe` result, if already known.
    offset, duration
        Span to read, in seconds.

    Returns
    -------
    y : np.ndarray, shape (channels, n), float32
        Samples, one row per channel (always 2-D).
    sr : int
        Sample rate in Hz.
    """
    import numpy as np

    info = info or probe(path)
    sr = info.samplerate
    start, stop = span_frames(info, offset, duration)
    n = max(stop - start, 0)
    if info.counted or (
        n * info.channels * 4 > _TRUST_HEADER_BYTES and n > _plausible_frames(info)
    ):
        # The header claims far more than the file can hold: read what is really there,
        # block by block, instead of allocating what the header says. (Or it gives no
        # length, and the file can only be decoded front to back.)
        blocks = list(iter_blocks(path, 1 << 18, info, start, stop))
        data = np.concatenate(blocks) if blocks else np.zeros((0, info.channels), np.float32)
    else:
        sf = _sf()
        try:
            data = sf.read(
                info.source or str(path), frames=n, start=start, dtype="float32", always_2d=True
            )[0]
        except Exception:
            # Damaged somewhere: read block by block, keeping what decodes (or say why not).
            blocks = list(iter_blocks(path, 1 << 16, info, start, stop))
            data = np.concatenate(blocks) if blocks else np.zeros((0, info.channels), np.float32)
        _finite_or_raise(data, info)
    if len(data) == 0:
        raise DecodeError("no audio samples in the requested span", info.path)
    return np.ascontiguousarray(data.T), sr


def to_mono(y: np.ndarray) -> np.ndarray:
    """Average channels: ``(channels, n) -> (n,)``; 1-D input is returned as is."""
    return y if y.ndim == 1 else y.mean(axis=0, dtype="float32").astype("float32", copy=False)


def resample(y: np.ndarray, sr: int, target_sr: int, quality: str = "HQ") -> np.ndarray:
    """Resample along the last axis with soxr (librosa's default ``soxr_hq``).

    Parameters
    ----------
    y : np.ndarray, shape (n,) or (channels, n)
    sr, target_sr
        Source and target rates in Hz.
    quality
        soxr quality: ``QQ``, ``LQ``, ``MQ``, ``HQ`` or ``VHQ``.

    Returns
    -------
    np.ndarray, float32, same number of dimensions as ``y``; the length is
    ``ceil(n * target_sr / sr)`` as in :func:`librosa.resample`.
    """
    if sr == target_sr:
        return y
    import numpy as np
    import soxr

    n_out = int(math.ceil(y.shape[-1] * target_sr / sr))
    out = soxr.resample(y.T, sr, target_sr, quality=quality).T
    if out.shape[-1] < n_out:  # soxr rounds the length; librosa pads it to the ceiling
        pad = [(0, 0)] * (out.ndim - 1) + [(0, n_out - out.shape[-1])]
        out = np.pad(out, pad)
    return np.ascontiguousarray(out[..., :n_out], dtype=np.float32)


def load(
    path: str | os.PathLike[str],
    sr: int | None = None,
    mono: bool = True,
    offset: float = 0.0,
    duration: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode, mix down and resample like :func:`librosa.load`.

    Parameters
    ----------
    path
        Audio file.
    sr
        Target rate in Hz; None keeps the file's own rate.
    mono
        Average the channels.
    offset, duration
        Span to read, in seconds.

    Returns
    -------
    y : np.ndarray, shape (n,) if mono else (channels, n), float32
    sr : int
        The rate of ``y``.
    """
    y, native = read(path, offset=offset, duration=duration)
    y = to_mono(y) if mono else (y[0] if y.shape[0] == 1 else y)
    if sr is not None and sr != native:
        y = resample(y, native, sr)
        native = sr
    return y, native
