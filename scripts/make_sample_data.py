"""Rebuild the committed sample audio set in ``sample_data/``.

Every file is synthesised from fixed parameters (and fixed RNG seeds for the noise files), so
running the script twice gives byte-identical WAV and FLAC files. The Ogg Vorbis file may differ
from run to run because libsndfile picks a random Ogg stream serial number; its decoded audio
does not change.

The speech files are rendered with the ``espeak-ng`` command-line program. When it is not
installed, those files are skipped with a warning and every other file is still written.

Usage::

    python scripts/make_sample_data.py [--out sample_data]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from audiokit import generate

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "sample_data"

SPEECH_TEXT = (
    "The quick brown fox jumps over the lazy dog. Audio kit turns recordings into numbers."
)
PAUSE_SEGMENTS = ("One, two, three.", "Audio kit finds the pauses.", "Goodbye.")
ESPEAK_VOICE = "en"
ESPEAK_SPEED_WPM = 150
SPEECH_RATE = 16000
SPEECH_PEAK = 0.9
TRIM_THRESHOLD = 1e-3  # -60 dBFS: espeak-ng output below this is treated as silence
PAUSE_LEAD_S = 1.0
PAUSE_GAP_S = 1.5

WHITE_SEED = 1
PINK_SEED = 2


class SpeechUnavailableError(RuntimeError):
    """Raised when ``espeak-ng`` cannot be used to render speech."""


@dataclass(frozen=True)
class Clip:
    """Audio samples plus the container settings used to write them.

    Attributes
    ----------
    data : numpy.ndarray
        Float samples in [-1, 1], shape ``(frames,)`` or ``(frames, channels)``.
    rate : int
        Sample rate in Hz.
    container : str
        libsndfile major format: ``"WAV"``, ``"FLAC"`` or ``"OGG"``.
    subtype : str
        libsndfile subtype: ``"PCM_16"``, ``"PCM_24"``, ``"FLOAT"`` or ``"VORBIS"``.
    """

    data: np.ndarray
    rate: int
    container: str
    subtype: str


# --------------------------------------------------------------------------------------------
# Signal building blocks
# --------------------------------------------------------------------------------------------


def time_axis(duration_s: float, rate: int) -> np.ndarray:
    """Return sample times ``n / rate`` for ``round(duration_s * rate)`` samples.

    Parameters
    ----------
    duration_s : float
        Duration in seconds.
    rate : int
        Sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Times in seconds, float64.
    """
    return np.arange(round(duration_s * rate), dtype=np.float64) / rate


def sine(freq_hz: float, duration_s: float, rate: int, amplitude: float = 1.0) -> np.ndarray:
    """Return ``amplitude * sin(2 pi f t)`` starting at phase zero (``audiokit generate sine``).

    ``audiokit.generate`` scales a tone to its sample peak; here the unit sine is scaled by
    ``amplitude`` itself (:func:`audiokit.generate.render`'s ``scale``), which keeps the
    committed files byte-identical.

    Parameters
    ----------
    freq_hz : float
        Frequency in Hz.
    duration_s : float
        Duration in seconds.
    rate : int
        Sample rate in Hz.
    amplitude : float, optional
        Peak amplitude (any positive value: the overdriven sample is clipped afterwards).

    Returns
    -------
    numpy.ndarray
        Mono float64 signal.
    """
    sig = generate.make("sine", sr=rate, duration=duration_s, freqs=[freq_hz])
    return generate.render(sig, dtype=np.float64, scale=amplitude)[0]


def harmonic_tone(
    f0_hz: float, duration_s: float, rate: int, harmonic_amps: Sequence[float]
) -> np.ndarray:
    """Return a sum of sines at integer multiples of ``f0_hz`` (all starting at phase zero).

    Parameters
    ----------
    f0_hz : float
        Fundamental frequency in Hz.
    duration_s : float
        Duration in seconds.
    rate : int
        Sample rate in Hz.
    harmonic_amps : sequence of float
        Amplitude of harmonic ``k + 1`` at index ``k``.

    Returns
    -------
    numpy.ndarray
        Mono float64 signal (not normalised).
    """
    t = time_axis(duration_s, rate)
    out = np.zeros_like(t)
    for k, amp in enumerate(harmonic_amps, start=1):
        out += amp * np.sin(2.0 * np.pi * k * f0_hz * t)
    return out


def midi_to_hz(note: int) -> float:
    """Convert a MIDI note number to Hz (equal temperament, A4 = 69 = 440 Hz).

    Parameters
    ----------
    note : int
        MIDI note number (60 = C4).

    Returns
    -------
    float
        Frequency in Hz.
    """
    return 440.0 * 2.0 ** ((note - 69) / 12.0)


def apply_fades(x: np.ndarray, rate: int, fade_in_s: float, fade_out_s: float) -> np.ndarray:
    """Apply raised-cosine (half-Hann) fades to the start and end of a mono signal.

    Parameters
    ----------
    x : numpy.ndarray
        Mono signal.
    rate : int
        Sample rate in Hz.
    fade_in_s, fade_out_s : float
        Fade lengths in seconds (0 disables a fade).

    Returns
    -------
    numpy.ndarray
        A faded copy of ``x``.
    """
    y = x.copy()
    n_in, n_out = round(fade_in_s * rate), round(fade_out_s * rate)
    if n_in:
        y[:n_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)
    if n_out:
        y[len(y) - n_out :] *= 0.5 + 0.5 * np.cos(np.pi * (np.arange(n_out) + 1) / n_out)
    return y


def normalize_peak(x: np.ndarray, peak: float) -> np.ndarray:
    """Scale ``x`` so that ``max(|x|) == peak``.

    Parameters
    ----------
    x : numpy.ndarray
        Signal (not all zeros).
    peak : float
        Target absolute peak.

    Returns
    -------
    numpy.ndarray
        Scaled copy of ``x``.
    """
    return x * (peak / np.max(np.abs(x)))


def normalize_rms(x: np.ndarray, rms_dbfs: float) -> np.ndarray:
    """Scale ``x`` so that its RMS equals ``rms_dbfs`` (0 dBFS = RMS of 1.0).

    Parameters
    ----------
    x : numpy.ndarray
        Signal (not all zeros).
    rms_dbfs : float
        Target RMS level in dBFS.

    Returns
    -------
    numpy.ndarray
        Scaled copy of ``x``.
    """
    return x * (10.0 ** (rms_dbfs / 20.0) / np.sqrt(np.mean(x**2)))


# --------------------------------------------------------------------------------------------
# One builder per file kind
# --------------------------------------------------------------------------------------------


def make_sine440() -> Clip:
    """Build ``tones/sine440.wav``: 440 Hz sine, amplitude 0.5, 2 s, 22.05 kHz PCM_16 mono.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 22050
    return Clip(sine(440.0, 2.0, rate, amplitude=0.5), rate, "WAV", "PCM_16")


def make_chirp() -> Clip:
    """Build ``tones/chirp.wav``: logarithmic chirp 100 Hz -> 8 kHz, 3 s, 22.05 kHz FLOAT.

    The instantaneous frequency is ``f(t) = 100 * 80 ** (t / 3)``; amplitude 0.5 with 10 ms
    raised-cosine fades at both ends.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate, duration, f0, f1 = 22050, 3.0, 100.0, 8000.0
    t = time_axis(duration, rate)
    k = np.log(f1 / f0)
    phase = 2.0 * np.pi * f0 * duration / k * (np.exp(k * t / duration) - 1.0)
    x = apply_fades(0.5 * np.sin(phase), rate, 0.01, 0.01)
    return Clip(x.astype(np.float32), rate, "WAV", "FLOAT")


def make_chord() -> Clip:
    """Build ``music/chord.flac``: C major triad (C4, E4, G4), 3 s, 44.1 kHz FLAC PCM_16.

    Each note has harmonics 1-4 with amplitudes 1, 0.5, 0.25, 0.125. The sum has a 10 ms
    linear attack, an exponential decay ``exp(-t / 0.8 s)`` and a 50 ms raised-cosine
    fade-out, and is normalised to a peak of 0.8.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate, duration = 44100, 3.0
    amps = (1.0, 0.5, 0.25, 0.125)
    x = sum(harmonic_tone(midi_to_hz(n), duration, rate, amps) for n in (60, 64, 67))
    t = time_axis(duration, rate)
    envelope = np.minimum(t / 0.01, 1.0) * np.exp(-t / 0.8)
    x = apply_fades(x * envelope, rate, 0.0, 0.05)
    return Clip(normalize_peak(x, 0.8), rate, "FLAC", "PCM_16")


MELODY_NOTES = (60, 64, 67, 72, 69, 65, 62, 67)  # C4 E4 G4 C5 A4 F4 D4 G4
MELODY_BPM = 120.0


def make_melody() -> Clip:
    """Build ``music/melody.ogg``: 8 quarter notes at 120 BPM, 5 s, 22.05 kHz Ogg Vorbis mono.

    One beat (0.5 s) of silence, then one note per beat, so the onsets fall at
    0.5, 1.0, ..., 4.0 s, followed by 0.5 s of silence. Each note has harmonics 1-5 with
    amplitudes ``1 / k``, a 2 ms linear attack, an exponential decay ``exp(-t / 0.15 s)`` and
    lasts 0.45 s including a 20 ms raised-cosine release. The result is normalised to a peak
    of 0.7.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 22050
    beat_s = 60.0 / MELODY_BPM
    beat = round(beat_s * rate)
    note_s = 0.45
    amps = tuple(1.0 / k for k in range(1, 6))
    out = np.zeros(beat * (len(MELODY_NOTES) + 2))
    t = time_axis(note_s, rate)
    envelope = np.minimum(t / 0.002, 1.0) * np.exp(-t / 0.15)
    for i, note in enumerate(MELODY_NOTES):
        tone = apply_fades(
            harmonic_tone(midi_to_hz(note), note_s, rate, amps) * envelope, rate, 0.0, 0.02
        )
        start = beat * (i + 1)
        out[start : start + len(tone)] += tone
    return Clip(normalize_peak(out, 0.7), rate, "OGG", "VORBIS")


def make_pink() -> Clip:
    """Build ``noise/pink.flac``: pink (1/f power) noise, 3 s, 16 kHz FLAC PCM_24.

    Gaussian white noise from ``numpy.random.default_rng(PINK_SEED)`` is shaped in the
    frequency domain by ``1 / sqrt(f)`` (DC bin set to zero) and scaled to -20 dBFS RMS.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate, n = 16000, 3 * 16000
    rng = np.random.default_rng(PINK_SEED)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / rate)
    scale = np.zeros_like(freqs)
    scale[1:] = 1.0 / np.sqrt(freqs[1:])
    x = np.fft.irfft(spectrum * scale, n=n)
    return Clip(normalize_rms(x, -20.0), rate, "FLAC", "PCM_24")


def make_white() -> Clip:
    """Build ``noise/white.wav``: Gaussian white noise at -20 dBFS RMS, 2 s, 8 kHz PCM_16.

    Samples come from ``numpy.random.default_rng(WHITE_SEED).standard_normal`` and are scaled
    to an RMS of exactly 0.1 before quantisation.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 8000
    rng = np.random.default_rng(WHITE_SEED)
    return Clip(normalize_rms(rng.standard_normal(2 * rate), -20.0), rate, "WAV", "PCM_16")


def make_pan() -> Clip:
    """Build ``stereo/pan.wav``: 330 Hz at peak 0.8 left, 660 Hz at peak 0.25 right.

    3 s, 44.1 kHz, 2 channels, PCM_16.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 44100
    left = sine(330.0, 3.0, rate, amplitude=0.8)
    right = sine(660.0, 3.0, rate, amplitude=0.25)
    return Clip(np.column_stack([left, right]), rate, "WAV", "PCM_16")


def make_overdriven() -> Clip:
    """Build ``clipped/overdriven.wav``: 220 Hz sine at amplitude 1.6 hard-clipped to +/-1.0.

    2 s, 22.05 kHz, PCM_16 mono.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 22050
    return Clip(np.clip(sine(220.0, 2.0, rate, amplitude=1.6), -1.0, 1.0), rate, "WAV", "PCM_16")


def make_dc_offset() -> Clip:
    """Build ``clipped/dc_offset.wav``: 100 Hz sine at amplitude 0.3 plus a DC offset of +0.1.

    2 s, 16 kHz, PCM_16 mono.

    Returns
    -------
    Clip
        The clip to write.
    """
    rate = 16000
    return Clip(sine(100.0, 2.0, rate, amplitude=0.3) + 0.1, rate, "WAV", "PCM_16")


# --------------------------------------------------------------------------------------------
# Speech (espeak-ng)
# --------------------------------------------------------------------------------------------


def espeak(text: str, rate: int = SPEECH_RATE) -> np.ndarray:
    """Render ``text`` with espeak-ng and return it as mono float64 at ``rate`` Hz.

    Runs ``espeak-ng -v en -s 150 -w <tmp.wav> <text>`` and resamples the result (22.05 kHz
    on espeak-ng 1.51) with ``soxr.resample(..., quality="HQ")``.

    Parameters
    ----------
    text : str
        Text to speak.
    rate : int, optional
        Output sample rate in Hz.

    Returns
    -------
    numpy.ndarray
        Mono float64 samples.

    Raises
    ------
    SpeechUnavailableError
        If ``espeak-ng`` is not on ``PATH`` or fails.
    """
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SpeechUnavailableError(
            "espeak-ng was not found on PATH; install it (e.g. `apt-get install espeak-ng`) "
            "to build the speech samples"
        )
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        cmd = [exe, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED_WPM), "-w", str(wav), text]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not wav.exists():
            raise SpeechUnavailableError(
                f"espeak-ng failed (exit {result.returncode}): {result.stderr.strip()}"
            )
        data, source_rate = sf.read(wav, dtype="float64", always_2d=True)
    mono = data.mean(axis=1)
    if source_rate == rate:
        return mono
    return soxr.resample(mono, source_rate, rate, quality="HQ")


def trim_silence(x: np.ndarray, threshold: float = TRIM_THRESHOLD) -> np.ndarray:
    """Cut everything before the first and after the last sample with ``|x| >= threshold``.

    Parameters
    ----------
    x : numpy.ndarray
        Mono signal.
    threshold : float, optional
        Absolute amplitude below which edge samples count as silence.

    Returns
    -------
    numpy.ndarray
        The trimmed signal (a view into ``x``).
    """
    loud = np.flatnonzero(np.abs(x) >= threshold)
    return x[loud[0] : loud[-1] + 1]


def make_hello(speech: np.ndarray) -> Clip:
    """Build ``speech/hello.wav`` from espeak-ng output: 16 kHz mono PCM_16, peak 0.9.

    Parameters
    ----------
    speech : numpy.ndarray
        ``espeak(SPEECH_TEXT)`` at 16 kHz.

    Returns
    -------
    Clip
        The clip to write.
    """
    return Clip(normalize_peak(speech, SPEECH_PEAK), SPEECH_RATE, "WAV", "PCM_16")


def join_with_pauses(
    segments: Sequence[np.ndarray], rate: int, lead_s: float, gap_s: float
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Join segments with ``gap_s`` of digital silence and ``lead_s`` at both ends.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        Mono voiced segments, already trimmed.
    rate : int
        Sample rate in Hz.
    lead_s : float
        Silence before the first and after the last segment, in seconds.
    gap_s : float
        Silence between segments, in seconds.

    Returns
    -------
    signal : numpy.ndarray
        The joined signal.
    spans : list of (int, int)
        ``[start, end)`` sample indices of each voiced segment.
    """
    lead, gap = np.zeros(round(lead_s * rate)), np.zeros(round(gap_s * rate))
    parts: list[np.ndarray] = [lead]
    spans: list[tuple[int, int]] = []
    pos = len(lead)
    for i, seg in enumerate(segments):
        if i:
            parts.append(gap)
            pos += len(gap)
        parts.append(seg)
        spans.append((pos, pos + len(seg)))
        pos += len(seg)
    parts.append(lead)
    return np.concatenate(parts), spans


def make_with_pauses(segments: Sequence[np.ndarray]) -> tuple[Clip, list[tuple[int, int]]]:
    """Build ``speech/with_pauses.flac``: speech segments separated by digital silence.

    Each espeak-ng segment is trimmed at -60 dBFS and normalised to peak 0.9; segments are
    separated by 1.5 s of zeros with 1 s of zeros at the start and end. 16 kHz FLAC PCM_16.

    Parameters
    ----------
    segments : sequence of numpy.ndarray
        ``espeak(text)`` at 16 kHz for each text in ``PAUSE_SEGMENTS``.

    Returns
    -------
    clip : Clip
        The clip to write.
    spans : list of (int, int)
        ``[start, end)`` sample indices of the voiced spans.
    """
    voiced = [normalize_peak(trim_silence(s), SPEECH_PEAK) for s in segments]
    x, spans = join_with_pauses(voiced, SPEECH_RATE, PAUSE_LEAD_S, PAUSE_GAP_S)
    return Clip(x, SPEECH_RATE, "FLAC", "PCM_16"), spans


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def quantize(x: np.ndarray, bits: int) -> np.ndarray:
    """Round float samples to signed ``bits``-bit integers, scale ``2 ** (bits - 1)``.

    Uses the same convention as libsndfile (1.0 -> max positive code, -1.0 -> min code), so
    reading back as float gives ``code / 2 ** (bits - 1)``. 24-bit codes are returned left-aligned
    in int32 (``code << 8``), which is what libsndfile expects for ``PCM_24``.

    Parameters
    ----------
    x : numpy.ndarray
        Float samples.
    bits : int
        16 or 24.

    Returns
    -------
    numpy.ndarray
        int16 (16 bits) or int32 (24 bits) samples.
    """
    full = 2 ** (bits - 1)
    codes = np.clip(np.round(x * full), -full, full - 1)
    if bits == 16:
        return codes.astype(np.int16)
    if bits == 24:
        return codes.astype(np.int32) << 8
    raise ValueError(f"unsupported bit depth: {bits}")


def zero_wav_peak_timestamp(wav: bytes) -> bytes:
    """Zero the timestamp libsndfile stores in a WAV ``PEAK`` chunk (float files).

    The timestamp is the only non-deterministic byte range in libsndfile's float WAV output.

    Parameters
    ----------
    wav : bytes
        A complete RIFF/WAVE file.

    Returns
    -------
    bytes
        The same file with the PEAK timestamp set to 0 (unchanged if it has no PEAK chunk).
    """
    buf = bytearray(wav)
    pos = 12
    while pos + 8 <= len(buf):
        chunk_id = bytes(buf[pos : pos + 4])
        (size,) = struct.unpack_from("<I", buf, pos + 4)
        if chunk_id == b"PEAK":
            struct.pack_into("<I", buf, pos + 12, 0)  # after the 4-byte version field
            break
        pos += 8 + size + (size & 1)
    return bytes(buf)


def encode(clip: Clip) -> bytes:
    """Encode a clip to the bytes of its container.

    Parameters
    ----------
    clip : Clip
        Clip to encode.

    Returns
    -------
    bytes
        The encoded file.
    """
    data = clip.data
    if clip.subtype == "PCM_16":
        data = quantize(data, 16)
    elif clip.subtype == "PCM_24":
        data = quantize(data, 24)
    buf = io.BytesIO()
    sf.write(buf, data, clip.rate, format=clip.container, subtype=clip.subtype)
    out = buf.getvalue()
    return zero_wav_peak_timestamp(out) if clip.container == "WAV" else out


def write_clip(path: Path, clip: Clip) -> None:
    """Write ``clip`` to ``path``, creating parent directories, and print a summary line.

    Parameters
    ----------
    path : pathlib.Path
        Destination file.
    clip : Clip
        Clip to write.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode(clip))
    info = sf.info(path)
    print(
        f"{path}: {info.format}/{info.subtype} {info.samplerate} Hz {info.channels} ch "
        f"{info.frames} frames {info.duration:.3f} s {path.stat().st_size} B"
    )


def write_speech(out: Path) -> None:
    """Render and write the espeak-ng based files under ``out / "speech"``.

    Parameters
    ----------
    out : pathlib.Path
        Output root.

    Raises
    ------
    SpeechUnavailableError
        If espeak-ng is missing or fails.
    """
    hello = make_hello(espeak(SPEECH_TEXT))
    pauses, spans = make_with_pauses([espeak(t) for t in PAUSE_SEGMENTS])
    write_clip(out / "speech" / "hello.wav", hello)
    (out / "speech" / "hello.txt").write_text(SPEECH_TEXT + "\n", encoding="utf-8")
    write_clip(out / "speech" / "with_pauses.flac", pauses)
    seconds = [[round(a / SPEECH_RATE, 6), round(b / SPEECH_RATE, 6)] for a, b in spans]
    (out / "speech" / "with_pauses.json").write_text(json.dumps(seconds) + "\n", encoding="utf-8")
    for (a, b), text in zip(spans, PAUSE_SEGMENTS, strict=True):
        print(
            f"  voiced [{a}, {b}) samples = [{a / SPEECH_RATE:.6f}, {b / SPEECH_RATE:.6f}) s"
            f" {text!r}"
        )


BUILDERS: dict[str, Callable[[], Clip]] = {
    "music/chord.flac": make_chord,
    "music/melody.ogg": make_melody,
    "tones/sine440.wav": make_sine440,
    "tones/chirp.wav": make_chirp,
    "noise/pink.flac": make_pink,
    "noise/white.wav": make_white,
    "stereo/pan.wav": make_pan,
    "clipped/overdriven.wav": make_overdriven,
    "clipped/dc_offset.wav": make_dc_offset,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments (defaults to ``sys.argv[1:]``).

    Returns
    -------
    int
        Process exit status (0 even when the speech files had to be skipped).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output directory (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    for rel, build in BUILDERS.items():
        write_clip(out / rel, build())
    try:
        write_speech(out)
    except SpeechUnavailableError as exc:
        print(f"WARNING: skipping speech/ files: {exc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
