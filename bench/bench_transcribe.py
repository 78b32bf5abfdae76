"""``audiokit transcribe``: real-time factor, overhead over faster-whisper, batch throughput.

1. Real-time factor (processing time / audio time) on the CPU for tiny.en and base on
   a ~1-minute speech file (.bench/speech_60s.wav, made from ../shared/corpus/speech/jfk.flac
   and sample_data/speech/hello.wav), and the overhead of audiokit's engine over calling
   ``faster_whisper.WhisperModel.transcribe`` on the same file with the same model object and
   parameters, in the same run (model load excluded from both; target: under 10 %).
2. Files per second on a directory of 20 short speech clips: one ``audiokit transcribe DIR``
   against ``audiokit transcribe FILE`` once per file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import AUDIOKIT, DATA, ROOT, ratio

os.environ["HF_HUB_OFFLINE"] = "1"
CORPUS = ROOT.parent / "shared" / "corpus"
SR = 16000


def _speech_pieces() -> list[np.ndarray]:
    from audiokit import audio_io

    pieces = []
    jfk = CORPUS / "speech" / "jfk.flac"
    if jfk.exists():
        pieces.append(audio_io.load(jfk, sr=SR)[0])
    pieces.append(audio_io.load(ROOT / "sample_data" / "speech" / "hello.wav", sr=SR)[0])
    return pieces


def make_speech(path: Path, seconds: float = 60.0) -> Path:
    """About ``seconds`` of speech (real and synthetic sentences, 0.5 s gaps); reused."""
    if path.exists() and sf.info(path).duration >= seconds - 1:
        return path
    pieces = _speech_pieces()
    gap = np.zeros(SR // 2, np.float32)
    out: list[np.ndarray] = []
    total = 0
    i = 0
    while total < seconds * SR:
        p = pieces[i % len(pieces)]
        out += [p, gap]
        total += len(p) + len(gap)
        i += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.concatenate(out), SR, subtype="PCM_16")
    return path


def make_clips(folder: Path, n: int = 20) -> Path:
    """``n`` short speech clips: spoken digits from the corpus, else slices of hello.wav."""
    if folder.exists() and len(list(folder.glob("*.wav"))) >= n:
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    fsdd = sorted((CORPUS / "fsdd").glob("*.wav")) if (CORPUS / "fsdd").is_dir() else []
    if len(fsdd) >= n:
        for f in fsdd[:n]:
            shutil.copy(f, folder / f.name)
        return folder
    from audiokit import audio_io

    y = audio_io.load(ROOT / "sample_data" / "speech" / "hello.wav", sr=SR)[0]
    for k in range(n):
        a = int((k % 4) * 1.2 * SR)
        sf.write(folder / f"clip_{k:02d}.wav", y[a : a + int(2.0 * SR)], SR, subtype="PCM_16")
    return folder


def bench_model(name: str, path: Path, repeat: int = 3) -> None:
    import faster_whisper  # noqa: F401  (imported before timing)

    from audiokit.transcribe import engine, files
    from audiokit.transcribe.models import resolve_model

    threads = len(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    resolved = resolve_model(name)
    resolve_s = time.perf_counter() - t0
    opts = engine.TranscribeOptions.for_model(resolved, threads=threads)
    t0 = time.perf_counter()
    model = engine.load_model(opts.model_path, opts.device, opts.compute_type, opts.threads)
    load_s = time.perf_counter() - t0
    duration = sf.info(path).duration
    language = None if resolved.multilingual else "en"

    def direct() -> str:
        segments, _ = model.transcribe(str(path), language=language, beam_size=5, vad_filter=True)
        return " ".join(s.text.strip() for s in segments)

    def ours() -> str:
        return files.transcribe_file(str(path), opts).text

    wall = {"d": float("inf"), "o": float("inf")}
    cpu = {"d": float("inf"), "o": float("inf")}
    texts = {"d": "", "o": ""}
    for _ in range(repeat):  # interleaved, so that machine noise hits both alike
        for key, fn in (("d", direct), ("o", ours)):
            t0, c0 = time.perf_counter(), time.process_time()
            texts[key] = fn()
            wall[key] = min(wall[key], time.perf_counter() - t0)
            cpu[key] = min(cpu[key], time.process_time() - c0)
    print(
        f"{name}: resolve {resolve_s:.2f} s, model load {load_s:.2f} s (excluded below), "
        f"{duration:.1f} s of audio, {threads} threads, best of {repeat}",
        flush=True,
    )
    print(
        f"  real-time factor (wall): faster-whisper {wall['d'] / duration:.3f}, "
        f"audiokit {wall['o'] / duration:.3f}  (x{duration / wall['o']:.1f} real time)"
    )
    ratio(f"{name}, {duration:.0f} s of speech", wall["d"], wall["o"], peer="faster-whisper (raw)")
    print(
        f"  overhead over faster-whisper: wall {100 * (wall['o'] / wall['d'] - 1):+.1f} %, "
        f"CPU time {100 * (cpu['o'] / cpu['d'] - 1):+.1f} % (target < 10 %); "
        f"same words: {texts['d'].split() == texts['o'].split()}",
        flush=True,
    )


def bench_batch(folder: Path) -> None:
    clips = sorted(folder.glob("*.wav"))
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        t0 = time.perf_counter()
        for c in clips:
            subprocess.run(
                [
                    AUDIOKIT,
                    "transcribe",
                    str(c),
                    "-q",
                    "-o",
                    str(Path(tmp, "one", c.stem + ".txt")),
                ],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        per_file = time.perf_counter() - t0
        t0 = time.perf_counter()
        subprocess.run(
            [AUDIOKIT, "transcribe", str(folder), "-q", "-o", str(Path(tmp, "dir"))],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        batch = time.perf_counter() - t0
        n_out = len(list(Path(tmp, "dir").rglob("*.txt")))
    assert n_out == len(clips), (n_out, len(clips))
    print(
        f"{len(clips)} short clips: CLI once per file {len(clips) / per_file:.2f} files/s, "
        f"one batch run {len(clips) / batch:.2f} files/s",
        flush=True,
    )
    ratio(f"{len(clips)} clips in one run", per_file, batch, peer="audiokit once per file")


def main() -> None:
    speech = make_speech(DATA / "speech_60s.wav")
    bench_model("tiny.en", speech)
    bench_model("base", speech, repeat=2)
    bench_batch(make_clips(DATA / "speech_clips"))


if __name__ == "__main__":
    main()
