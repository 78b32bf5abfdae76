"""Speech to text with faster-whisper (CTranslate2), offline, as typed results.

:func:`transcribe_array` runs the model on 16 kHz mono float32 samples and
returns a :class:`Transcript` (:func:`audiokit.transcribe.files.transcribe_file`
reads any file audiokit reads into it). The model is loaded once per process (and per
(model, device, compute type, threads)) by :func:`load_model`; a batch worker
loads it on its first file and reuses it for the others.

Guards against Whisper's hallucinations on non-speech: digital silence
(peak below :data:`SILENCE_PEAK`) gives an empty transcript without running the
model; voice activity detection (Silero VAD, shipped inside faster-whisper, on
by default) drops the non-speech; and segments the model itself rates as
probably not speech (``no_speech_prob > 0.6`` and ``avg_logprob < -1``, the
thresholds Whisper uses to skip a window) are dropped.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from audiokit.errors import AudiokitError, MissingDependencyError, UsageError
from audiokit.transcribe.models import ResolvedModel

#: Whisper's input rate.
SAMPLE_RATE = 16000
#: Audio whose absolute peak is below this (about -80 dBFS) is treated as silence.
SILENCE_PEAK = 1e-4
#: A segment is dropped when its no-speech probability is above this...
NO_SPEECH_PROB = 0.6
#: ...and its average token log-probability below this.
LOGPROB_FLOOR = -1.0

TASKS = ("transcribe", "translate")
DEVICES = ("cpu", "cuda", "auto")


@dataclass(frozen=True)
class TranscribeOptions:
    """How to transcribe (picklable: sent to batch workers).

    Attributes
    ----------
    model_path : str
        CTranslate2 model directory (see :func:`audiokit.transcribe.models.resolve_model`).
    model_name : str
        Name shown in outputs (``tiny.en``, ``base``, the path given).
    multilingual : bool
        Whether the model can detect languages and translate.
    device : str
        ``cpu`` or ``cuda`` (resolve ``auto`` with :func:`resolve_device` first).
    compute_type : str
        CTranslate2 compute type (``int8``, ``float16``, ...); ``default``: int8
        on CPU, float16 on CUDA.
    threads : int
        CPU threads per model (0: CTranslate2's default).
    language : str or None
        Language code; None detects it (multilingual models) or uses ``en``.
    task : str
        ``transcribe`` or ``translate`` (to English).
    beam_size : int
    vad : bool
        Skip non-speech with Silero VAD.
    word_timestamps : bool
    initial_prompt : str or None
    """

    model_path: str
    model_name: str = "tiny.en"
    multilingual: bool = False
    device: str = "cpu"
    compute_type: str = "default"
    threads: int = 0
    language: str | None = None
    task: str = "transcribe"
    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = False
    initial_prompt: str | None = None

    @classmethod
    def for_model(cls, model: ResolvedModel, **kw: Any) -> TranscribeOptions:
        """Options for a resolved model, checked (see :meth:`check`)."""
        opts = cls(
            model_path=model.path, model_name=model.name, multilingual=model.multilingual, **kw
        )
        opts.check()
        return opts

    def check(self) -> None:
        """Refuse option combinations the model cannot honour.

        Raises
        ------
        UsageError
        """
        if self.task not in TASKS:
            raise UsageError(f"--task must be one of {', '.join(TASKS)}")
        if self.beam_size < 1:
            raise UsageError("--beam-size must be at least 1")
        if not self.multilingual:
            if self.task == "translate":
                raise UsageError(
                    f"model {self.model_name} is English-only: it cannot translate "
                    "(use --model base)"
                )
            if self.language not in (None, "en"):
                raise UsageError(
                    f"model {self.model_name} is English-only: --language {self.language} "
                    "needs a multilingual model (use --model base)"
                )
        elif self.language is not None:
            from faster_whisper.tokenizer import _LANGUAGE_CODES

            if self.language not in _LANGUAGE_CODES:
                raise UsageError(f"unknown language code {self.language!r} (e.g. en, fr, de)")


@dataclass(frozen=True)
class Word:
    """A word with its time span in seconds and the model's probability."""

    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment:
    """A stretch of speech and its text.

    Attributes
    ----------
    start, end : float
        Seconds from the start of the file.
    text : str
        Without the leading space Whisper puts there.
    avg_logprob : float
        Mean log-probability of its tokens.
    no_speech_prob : float
        Model's probability that the window held no speech.
    compression_ratio : float
    words : tuple of Word
        Empty unless word timestamps were asked for.
    """

    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """What was said in one file.

    Attributes
    ----------
    path : str
        The input as named on the command line.
    duration : float
        Seconds of audio.
    language : str or None
        Detected or given language (None for silence on a multilingual model).
    language_probability : float or None
        Probability of the detected language (1.0 when given, None when not detected).
    language_detected : bool
        Whether the language was detected rather than given or implied.
    segments : tuple of Segment
    model : str
    task : str
    dropped : int
        Segments discarded as probable hallucinations.
    """

    path: str
    duration: float
    language: str | None
    language_probability: float | None
    language_detected: bool
    segments: tuple[Segment, ...] = field(default_factory=tuple)
    model: str = ""
    task: str = "transcribe"
    dropped: int = 0

    @property
    def text(self) -> str:
        """The segments' texts joined by spaces."""
        return " ".join(s.text for s in self.segments if s.text).strip()


# --------------------------------------------------------------------------- models


def _faster_whisper() -> Any:
    # The Hugging Face hub reads HF_HUB_OFFLINE when it is imported: never go online.
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import faster_whisper
    except ImportError as exc:
        raise MissingDependencyError(
            f"transcription needs faster-whisper ({exc.name} is missing): "
            "pip install 'audiokit[transcribe]'"
        ) from None
    return faster_whisper


def resolve_device(device: str) -> tuple[str, str | None]:
    """Turn ``cpu``/``cuda``/``auto`` into the device to use, and a note when CUDA is missing."""
    if device not in DEVICES:
        raise UsageError(f"--device must be one of {', '.join(DEVICES)}")
    if device == "cpu":
        return "cpu", None
    try:
        import ctranslate2

        gpus = ctranslate2.get_cuda_device_count()
    except Exception:
        gpus = 0
    if gpus > 0:
        return "cuda", None
    note = "CUDA is not available to CTranslate2; using the CPU" if device == "cuda" else None
    return "cpu", note


def resolve_compute_type(device: str, compute_type: str) -> str:
    """``default`` -> int8 on CPU, float16 on CUDA; other values are checked against CTranslate2.

    Raises
    ------
    UsageError
        A compute type the device does not support.
    """
    if compute_type == "default":
        return "int8" if device == "cpu" else "float16"
    try:
        import ctranslate2

        supported = set(ctranslate2.get_supported_compute_types(device))
    except Exception:
        return compute_type
    if compute_type not in supported | {"auto"}:
        raise UsageError(
            f"compute type {compute_type!r} is not supported on {device} "
            f"(supported: {', '.join(sorted(supported))})"
        )
    return compute_type


@functools.lru_cache(maxsize=2)
def _load(path: str, device: str, compute_type: str, threads: int, pid: int) -> Any:
    fw = _faster_whisper()
    _seed()
    try:
        return fw.WhisperModel(
            path,
            device=device,
            compute_type=resolve_compute_type(device, compute_type),
            cpu_threads=threads,
            local_files_only=True,
        )
    except (RuntimeError, ValueError, OSError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingDependencyError(f"cannot load the Whisper model in {path}: {msg}") from None


def load_model(
    path: str, device: str = "cpu", compute_type: str = "default", threads: int = 0
) -> Any:
    """A ``faster_whisper.WhisperModel``, loaded once per process for these arguments.

    The process id is part of the cache key: a worker forked from a process that
    already holds a model loads its own (CTranslate2's thread pool does not
    survive a fork).
    """
    return _load(path, device, compute_type, threads, os.getpid())


# --------------------------------------------------------------------------- transcription


def _word(w: Any) -> Word:
    return Word(float(w.start), float(w.end), str(w.word).strip(), float(w.probability))


def _segment(s: Any) -> Segment:
    return Segment(
        start=float(s.start),
        end=float(s.end),
        text=str(s.text).strip(),
        avg_logprob=float(s.avg_logprob),
        no_speech_prob=float(s.no_speech_prob),
        compression_ratio=float(s.compression_ratio),
        words=tuple(_word(w) for w in (s.words or ())),
    )


def _clamp(seg: Segment, duration: float) -> Segment:
    """Keep a segment's times inside the file (a segment starting after its end becomes empty,
    and is dropped)."""
    if seg.end <= duration:
        return seg
    if seg.start >= duration:
        return replace(seg, start=duration, end=duration, text="", words=())
    return replace(seg, end=duration)


def is_hallucination(seg: Segment) -> bool:
    """A segment the model itself doubts: probably not speech and low confidence, or empty.

    A segment without a letter or digit (``"."``, ``"..."``: what tiny.en says of hiss
    without VAD) is not speech either.
    """
    if not any(ch.isalnum() for ch in seg.text):
        return True
    return seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOGPROB_FLOOR


def _keep(segments: Iterable[Segment]) -> tuple[list[Segment], int]:
    kept: list[Segment] = []
    dropped = 0
    for s in segments:
        if is_hallucination(s):
            dropped += 1
        else:
            kept.append(s)
    return kept, dropped


def _seed(seed: int = 0) -> None:
    """Seed CTranslate2's sampler (used when decoding falls back to a temperature above 0).

    CTranslate2 seeds each thread's generator on first use, so this makes a process
    reproducible for the same sequence of files, not each file independent of the others.
    """
    try:
        import ctranslate2

        ctranslate2.set_random_seed(seed)
    except (ImportError, AttributeError):  # pragma: no cover - old CTranslate2
        pass


def transcribe_array(
    y: np.ndarray, opts: TranscribeOptions, path: str = "", model: Any = None
) -> Transcript:
    """Transcribe 16 kHz mono audio.

    Parameters
    ----------
    y : np.ndarray, shape (n,), float32
        Audio at :data:`SAMPLE_RATE`.
    opts
        Options (model, decoding, VAD).
    path
        Name recorded in the result.
    model
        A loaded ``WhisperModel`` (default: :func:`load_model` for ``opts``).

    Returns
    -------
    Transcript
    """

    y = np.ascontiguousarray(y, dtype=np.float32)
    duration = len(y) / SAMPLE_RATE
    given = opts.language or (None if opts.multilingual else "en")
    if y.size == 0 or float(np.max(np.abs(y))) < SILENCE_PEAK:
        return Transcript(
            path, duration, given, 1.0 if given else None, False, (), opts.model_name, opts.task
        )
    if model is None:
        model = load_model(opts.model_path, opts.device, opts.compute_type, opts.threads)
    try:
        segments, info = model.transcribe(
            y,
            language=given,
            task=opts.task,
            beam_size=opts.beam_size,
            vad_filter=opts.vad,
            word_timestamps=opts.word_timestamps,
            initial_prompt=opts.initial_prompt or None,
        )
        kept, dropped = _keep(_clamp(_segment(s), duration) for s in segments)
    except AudiokitError:
        raise
    except (RuntimeError, ValueError) as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AudiokitError(f"transcription failed: {msg}", path or None) from None
    if given is not None:
        language, prob, detected = given, 1.0, False
    elif kept:
        language, prob, detected = info.language, float(info.language_probability), True
    else:  # nothing was said: a language "detected" on noise means nothing
        language, prob, detected = None, None, False
    return Transcript(
        path=path,
        duration=duration,
        language=language,
        language_probability=prob,
        language_detected=detected,
        segments=tuple(kept),
        model=opts.model_name,
        task=opts.task,
        dropped=dropped,
    )


def shifted(t: Transcript, offset: float) -> Transcript:
    """``t`` with every time moved by ``offset`` seconds (a span's times in the file's)."""

    def word(w: Word) -> Word:
        return replace(w, start=w.start + offset, end=w.end + offset)

    segments = tuple(
        replace(s, start=s.start + offset, end=s.end + offset, words=tuple(map(word, s.words)))
        for s in t.segments
    )
    return replace(t, segments=segments)
