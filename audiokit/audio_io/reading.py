"""Reading: samples as numpy arrays, whole (:func:`read`, :func:`load`) or block by block
(:func:`iter_blocks`), and the conversions that follow (:func:`to_mono`, :func:`resample`).

A damaged file is read up to the damage, with a
:class:`~audiokit.audio_io.info.DamagedAudioWarning`; nothing is allocated from what a
header claims.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

from audiokit.audio_io.info import AudioInfo, DamagedAudioWarning
from audiokit.audio_io.probing import probe
from audiokit.audio_io.sndfile import _read_unseekable, _reason, _sf, _words
from audiokit.errors import DecodeError, InputError, UsageError

if TYPE_CHECKING:
    import numpy as np

#: Above this many decoded bytes a header's frame count is checked for plausibility
#: against the file size before anything is allocated.
_TRUST_HEADER_BYTES = 64 * 2**20

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
