"""libsndfile through soundfile: its errors in one line, and the reader that needs no seek.

Shared by :mod:`~audiokit.audio_io.probing` (counting the frames of a stream without a
length) and :mod:`~audiokit.audio_io.reading`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


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
