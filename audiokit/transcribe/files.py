"""Transcribing files: any format audiokit reads, long ones span by span in bounded memory.

:func:`transcribe_file` decodes a file (:func:`audiokit.audio_io.load`, 16 kHz mono
float32) and transcribes it with :func:`audiokit.transcribe.engine.transcribe_array`.

faster-whisper takes the whole signal as one array, and its feature extractor takes
the STFT of all of it at once: three hours at 16 kHz would need several gigabytes.
A recording longer than :data:`LONG_SECONDS` is therefore read and transcribed
:data:`SPAN_SECONDS` at a time. Each span ends at the quietest
:data:`FRAME_SECONDS` of its last :data:`CUT_SECONDS` (a pause between words, where
Whisper's own 30-second windows would not split a word either); the next span
starts there. Every span's segments are shifted to file time.

Whisper decodes each window with the text before it as its prompt
(``condition_on_previous_text``). A span carries that on: it is given the end of
the text so far (after the user's ``--initial-prompt``, if any) as its prompt. A
multilingual model detects the language once, on the first span with speech, and
later spans keep it, as one whole-file run does on its first window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from audiokit import audio_io
from audiokit.transcribe.engine import (
    SAMPLE_RATE,
    TranscribeOptions,
    Transcript,
    shifted,
    transcribe_array,
)

#: Recordings (or ``--duration`` spans) longer than this are transcribed span by span.
LONG_SECONDS = 20 * 60.0
#: Audio read and transcribed at a time (~38 MB of 16 kHz samples).
SPAN_SECONDS = 10 * 60.0
#: A span is cut at the quietest frame of its last this-many seconds.
CUT_SECONDS = 30.0
#: Length of the frames compared when looking for the quietest moment.
FRAME_SECONDS = 0.05
#: Characters of the text so far given to the next span as its prompt (~100 tokens;
#: Whisper keeps at most 223 tokens of previous text).
PROMPT_CHARS = 400


def transcribe_file(
    path: str,
    opts: TranscribeOptions,
    display: str | None = None,
    start: float = 0.0,
    duration: float | None = None,
) -> Transcript:
    """Decode ``path`` (any format audiokit reads) and transcribe it.

    ``start``/``duration`` (seconds) take a span of it; times stay those of the file.
    A stretch longer than :data:`LONG_SECONDS` is read and transcribed
    :data:`SPAN_SECONDS` at a time (:func:`transcribe_spans`).

    Raises
    ------
    audiokit.errors.DecodeError, audiokit.errors.InputError
        The file cannot be read.
    """
    info = audio_io.probe(path)
    first, last = audio_io.span_frames(info, start, duration)
    if (last - first) / info.samplerate > LONG_SECONDS and not info.counted:
        begin = first / info.samplerate
        return transcribe_spans(path, opts, begin, last / info.samplerate, display or path)
    y, _ = audio_io.load(path, sr=SAMPLE_RATE, mono=True, offset=start, duration=duration)
    t = transcribe_array(y, opts, path=display or path)
    return shifted(t, start) if start else t


def quietest_cut(y: np.ndarray, window: int, frame: int) -> int:
    """Index of the middle of the quietest ``frame``-sample frame in ``y``'s last ``window``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    window, frame
        Samples searched (from the end) and samples per frame.

    Returns
    -------
    int
        A cut point in ``1 .. n - 1`` (the first of equally quiet frames).
    """
    n = len(y)
    window = max(1, min(window, n - 1))
    frame = max(1, min(frame, window))
    k = window // frame
    start = n - k * frame
    tail = np.asarray(y[start:], dtype=np.float64).reshape(k, frame)
    energy = np.einsum("ij,ij->i", tail, tail)
    return max(1, start + int(np.argmin(energy)) * frame + frame // 2)


def transcribe_spans(
    path: str,
    opts: TranscribeOptions,
    start: float,
    end: float,
    display: str,
    transcribe: Callable[..., Transcript] = transcribe_array,
) -> Transcript:
    """Transcribe ``path`` from ``start`` to ``end`` (seconds), one span at a time.

    Returns
    -------
    Transcript
        Of the whole stretch, in file time (as :func:`transcribe_file`).
    """
    parts: list[Transcript] = []
    said: list[str] = [opts.initial_prompt] if opts.initial_prompt else []
    span_opts = opts
    t0 = start
    while end - t0 > 1e-6:
        t1 = min(end, t0 + SPAN_SECONDS)
        y, _ = audio_io.load(path, sr=SAMPLE_RATE, mono=True, offset=t0, duration=t1 - t0)
        if t1 < end and len(y) > 1:
            y = y[
                : quietest_cut(y, int(CUT_SECONDS * SAMPLE_RATE), int(FRAME_SECONDS * SAMPLE_RATE))
            ]
        prompt = " ".join(said)[-PROMPT_CHARS:].strip()
        part = transcribe(y, replace(span_opts, initial_prompt=prompt), path=display)
        parts.append(shifted(part, t0) if t0 else part)
        if part.text:
            said.append(part.text)
            if span_opts.language is None and part.language_detected:
                span_opts = replace(span_opts, language=part.language)  # detected once
        t0 += len(y) / SAMPLE_RATE
    return _joined(parts, opts, display)


def _joined(parts: list[Transcript], opts: TranscribeOptions, display: str) -> Transcript:
    """One transcript of consecutive spans (the language is that of the first with speech)."""
    first = next((p for p in parts if p.segments), parts[0])
    return Transcript(
        path=display,
        duration=sum(p.duration for p in parts),
        language=first.language,
        language_probability=first.language_probability,
        language_detected=first.language_detected,
        segments=tuple(s for p in parts for s in p.segments),
        model=opts.model_name,
        task=opts.task,
        dropped=sum(p.dropped for p in parts),
    )
