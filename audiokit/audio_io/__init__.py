"""Opening audio files: the only package that decodes audio.

Functions here turn paths into :class:`AudioInfo` (header facts) and numpy
arrays, and translate every decoder failure into a :class:`DecodeError` with
a one-line reason. Guards against lying headers live here too: a header
that claims gigabytes never makes audiokit allocate gigabytes.

Array conventions follow librosa: mono audio has shape ``(n,)``, multichannel
audio ``(channels, n)``, dtype float32 in [-1, 1].

- :mod:`~audiokit.audio_io.info` — :class:`AudioInfo`, the extensions audiokit reads,
  :class:`DamagedAudioWarning`;
- :mod:`~audiokit.audio_io.probing` — :func:`probe`: the header, checked (damaged files,
  streams without a length, containers decoded through ffmpeg);
- :mod:`~audiokit.audio_io.reading` — :func:`read`, :func:`load`, :func:`iter_blocks`,
  :func:`span_frames`, :func:`to_mono`, :func:`resample`, :func:`parse_channel`;
- :mod:`~audiokit.audio_io.sndfile` — libsndfile's errors in one line, and its reader
  that needs no seek (soundfile's private handles).

Callers use the names below (``from audiokit import audio_io``; ``audio_io.probe``).
"""

from __future__ import annotations

from audiokit.audio_io.info import (
    AUDIO_EXTENSIONS,
    FFMPEG_AUDIO_EXTENSIONS,
    FFMPEG_VIDEO_EXTENSIONS,
    WALK_EXTENSIONS,
    AudioInfo,
    DamagedAudioWarning,
)
from audiokit.audio_io.probing import probe, probe_quiet
from audiokit.audio_io.reading import (
    MIX,
    iter_blocks,
    load,
    parse_channel,
    read,
    resample,
    span_frames,
    to_mono,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "FFMPEG_AUDIO_EXTENSIONS",
    "FFMPEG_VIDEO_EXTENSIONS",
    "MIX",
    "WALK_EXTENSIONS",
    "AudioInfo",
    "DamagedAudioWarning",
    "iter_blocks",
    "load",
    "parse_channel",
    "probe",
    "probe_quiet",
    "read",
    "resample",
    "span_frames",
    "to_mono",
]
