"""What audiokit knows of an audio file before decoding it: :class:`AudioInfo`, the
extensions it reads, and :class:`DamagedAudioWarning`."""

from __future__ import annotations

from dataclasses import dataclass

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


class DamagedAudioWarning(UserWarning):
    """A file is damaged but readable: audiokit reads what is there (``--strict``: fails)."""
