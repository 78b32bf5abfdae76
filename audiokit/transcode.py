"""Containers libsndfile cannot read (AAC/M4A, WMA, WavPack, video files...), through ffmpeg.

``librosa.load`` reads these with audioread, which runs ffmpeg and takes its
16-bit PCM; audiokit does the same: ffmpeg decodes the first audio stream of
the file once per process into a temporary 16-bit WAV, which the ordinary
readers of :mod:`audiokit.audio_io` then read, so the samples equal librosa's.
The WAV is removed when the next file is decoded and when the process ends
(workers included). Without ffmpeg the error says what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from audiokit.errors import DecodeError
from audiokit.output.files import scratch_name, sweep_scratch


@dataclass(frozen=True)
class Decoded:
    """A file ffmpeg decoded.

    Attributes
    ----------
    wav : str
        The temporary 16-bit WAV holding its first audio stream.
    codec : str
        ffmpeg's name of that stream's codec (``aac``, ``wmav2``...), upper case.
    """

    wav: str
    codec: str


_current: tuple[tuple[str, int, int], Decoded] | None = None


def decode(path: str | os.PathLike[str]) -> Decoded:
    """Decode ``path`` with ffmpeg into a temporary WAV (or reuse this process's last one).

    Raises
    ------
    DecodeError
        ffmpeg is not installed, or cannot decode the file (its reason).
    """

    global _current
    p = Path(path)
    st = p.stat()
    key = (os.path.realpath(p), st.st_size, st.st_mtime_ns)
    if _current is not None and _current[0] == key and os.path.exists(_current[1].wav):
        return _current[1]
    exe = shutil.which("ffmpeg")
    kind = p.suffix.lstrip(".").upper() or "this format"
    if exe is None:
        raise DecodeError(
            f"{kind} needs ffmpeg to decode: install ffmpeg (apt-get install ffmpeg, "
            "brew install ffmpeg), or convert the file to FLAC or WAV",
            str(path),
        )
    release()

    sweep_scratch(tempfile.gettempdir())  # decodes of killed runs
    fd, tmp = tempfile.mkstemp(prefix=scratch_name("ffmpeg"), suffix=".wav")
    os.close(fd)
    _remove_at_exit(tmp)
    # "file:" and an absolute path: no name is ever read as a protocol (concat:, pipe:,
    # subfile,...:) or an option; -nostdin: ffmpeg never reads the caller's terminal or pipe.
    source = "file:" + os.path.abspath(p)
    cmd = [exe, "-nostdin", "-hide_banner", "-y", "-i", source, "-map", "0:a:0"]
    cmd += ["-c:a", "pcm_s16le", "-rf64", "auto", "-f", "wav", "file:" + os.path.abspath(tmp)]
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL
        )
    except BaseException:
        _unlink(tmp)
        raise
    if proc.returncode != 0 or os.path.getsize(tmp) == 0:
        _unlink(tmp)
        raise DecodeError(f"ffmpeg cannot decode it: {_reason(proc.stderr, p)}", str(path))
    match = re.search(r"Stream #\d+:\d+\S*: Audio: (\w+)", proc.stderr)
    decoded = Decoded(tmp, match.group(1).upper() if match else "UNKNOWN")
    _current = (key, decoded)
    return decoded


def release() -> None:
    """Remove this process's temporary WAV, if any."""
    global _current
    if _current is not None:
        _unlink(_current[1].wav)
        _current = None


def _reason(stderr: str, path: Path) -> str:
    """ffmpeg's last word, without the path it repeats."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Output file" in ln and "does not contain any stream" in ln:
            return "no audio stream"
        if "matches no streams" in ln:
            return "no audio stream"
    last = lines[-1] if lines else "unknown error"
    for name in (f"file:{os.path.abspath(path)}", str(path), path.name):
        last = last.removeprefix(f"{name}: ")
    return last


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _remove_at_exit(path: str) -> None:
    # multiprocessing's finalizers run when the process ends, in forked workers too (atexit
    # handlers do not), and only in the process that registered them.

    from multiprocessing import util  # lazy: inspect's start-up does not pay for it

    util.Finalize(None, _unlink, args=(path,), exitpriority=0)
