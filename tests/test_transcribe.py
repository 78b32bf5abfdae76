"""``audiokit transcribe`` with the bundled tiny.en model: real transcription, offline."""

from __future__ import annotations

import itertools
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # the tests must never reach the network

from audiokit.errors import DecodeError, UsageError
from audiokit.transcribe import engine, files
from audiokit.transcribe.models import resolve_model
from tests.conftest import sine
from tests.test_transcribe_formats import check_monotonic, parse_srt, parse_vtt

KEY_WORDS = ("quick", "fox", "jumps", "over", "lazy", "dog", "turns", "into")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(ref: str, hyp: str) -> float:
    """Word error rate (Levenshtein distance over words / reference length)."""
    r, h = words(ref), words(hyp)
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)] / max(1, len(r))


@pytest.fixture(scope="module")
def tiny() -> engine.TranscribeOptions:
    """Options for tiny.en, with the model loaded once for the module (it stays cached)."""
    opts = engine.TranscribeOptions.for_model(resolve_model("tiny.en"), threads=2)
    engine.load_model(opts.model_path, opts.device, opts.compute_type, opts.threads)
    return opts


@pytest.fixture(scope="module")
def hello_result(tiny: engine.TranscribeOptions, sample_dir: Path) -> engine.Transcript:
    return files.transcribe_file(str(sample_dir / "speech" / "hello.wav"), tiny)


def test_hello_has_the_expected_words(hello_result: engine.Transcript, sample_dir: Path) -> None:
    expected = (sample_dir / "speech" / "hello.txt").read_text()
    got = set(words(hello_result.text))
    found = [w for w in KEY_WORDS if w in got]
    assert len(found) >= len(KEY_WORDS) - 1, (hello_result.text, expected)
    assert wer(expected, hello_result.text) < 0.5
    assert hello_result.language == "en" and not hello_result.language_detected
    assert hello_result.duration == pytest.approx(102275 / 16000, abs=1e-3)
    seg = hello_result.segments
    assert seg and 0 <= seg[0].start < seg[-1].end <= hello_result.duration + 0.5


def test_pauses_give_timed_segments(tiny: engine.TranscribeOptions, sample_dir: Path) -> None:
    t = files.transcribe_file(str(sample_dir / "speech" / "with_pauses.flac"), tiny)
    spans = json.loads((sample_dir / "speech" / "with_pauses.json").read_text())
    assert "goodbye" in words(t.text)
    assert {"two", "three"} & set(words(t.text)) or {"2", "3"} & set(words(t.text))
    check_monotonic([(s.start, s.end) for s in t.segments])
    # every segment overlaps speech, within Whisper's timing tolerance (about half a second)
    for s in t.segments:
        assert any(s.start < b + 0.6 and s.end > a - 0.6 for a, b in spans), s
    last = t.segments[-1]
    assert last.text.lower().startswith("goodbye") and last.end > spans[2][0] - 0.6


def test_silence_gives_an_empty_transcript(tiny: engine.TranscribeOptions) -> None:
    t = engine.transcribe_array(np.zeros(16000 * 3, np.float32), tiny, path="zeros")
    assert t.segments == () and t.text == "" and t.duration == 3.0
    # near-silent hiss and a steady tone: no invented words either, with or without VAD
    rng = np.random.default_rng(0)
    hiss = (1e-3 * rng.standard_normal(16000 * 4)).astype(np.float32)
    tone = sine(440, 16000, 4.0, 0.3)
    for y in (hiss, tone):
        assert engine.transcribe_array(y, tiny).text == ""
    no_vad = engine.TranscribeOptions.for_model(resolve_model("tiny.en"), threads=2, vad=False)
    assert engine.transcribe_array(hiss, no_vad).text == ""


def test_english_only_model_refuses_translation_and_other_languages() -> None:
    model = resolve_model("tiny.en")
    with pytest.raises(UsageError, match="English-only"):
        engine.TranscribeOptions.for_model(model, task="translate")
    with pytest.raises(UsageError, match="English-only"):
        engine.TranscribeOptions.for_model(model, language="fr")


def test_corrupt_file_raises_a_decode_error(tiny: engine.TranscribeOptions, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + bytes(100))
    with pytest.raises(DecodeError):
        files.transcribe_file(str(bad), tiny)


def test_jfk_matches_reference(tiny: engine.TranscribeOptions, corpus_dir: Path) -> None:
    path = corpus_dir / "speech" / "jfk.flac"
    if not path.exists():
        pytest.skip("jfk.flac is not in the corpus")
    ref = (corpus_dir / "speech" / "jfk.txt").read_text()
    t = files.transcribe_file(str(path), tiny)
    assert wer(ref, t.text) < 0.2, t.text


# --------------------------------------------------------------------------- CLI


def test_cli_txt_to_stdout(runner, cli, sample_dir: Path, tiny) -> None:
    res = runner.invoke(cli, ["transcribe", "-j", "1", str(sample_dir / "speech" / "hello.wav")])
    assert res.exit_code == 0, res.stderr
    assert {"quick", "lazy", "dog"} <= set(words(res.stdout))
    assert res.stderr == ""


def test_cli_srt_vtt_files_are_well_formed(
    runner, cli, sample_dir: Path, tmp_path: Path, write_audio, tiny
) -> None:
    from audiokit import audio_io

    y, _ = audio_io.load(sample_dir / "speech" / "hello.wav", sr=16000)
    twice = np.concatenate([y, np.zeros(32000, np.float32), y])
    src = str(write_audio("twice.wav", twice, 16000))
    srt, vtt = tmp_path / "p.srt", tmp_path / "p.vtt"
    for out in (srt, vtt):  # the format comes from the extension
        res = runner.invoke(cli, ["transcribe", "-j", "1", src, "-o", str(out)])
        assert res.exit_code == 0, res.stderr
    cues = parse_srt(srt.read_text())
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1)) and len(cues) >= 2
    check_monotonic([(a, b) for _, a, b, _ in cues])
    assert cues[-1][2] <= len(twice) / 16000
    assert [" ".join(words(c[3])) for c in cues].count(" ".join(words(cues[0][3]))) >= 2
    vcues = parse_vtt(vtt.read_text())
    assert [c[2] for c in vcues] == [c[3] for c in cues]
    assert [(round(a, 3), round(b, 3)) for a, b, _ in vcues] == [(a, b) for _, a, b, _ in cues]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.srt", "p.vtt", "twice.wav"]


def test_cli_json_with_words_from_stdin(runner, cli, sample_dir: Path, tiny) -> None:
    data = (sample_dir / "speech" / "hello.wav").read_bytes()
    res = runner.invoke(cli, ["transcribe", "-", "-f", "json", "--word-timestamps"], input=data)
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["path"] == "-" and doc["language"] == "en"
    ws = [w for s in doc["segments"] for w in s["words"]]
    assert len(ws) >= 8
    assert all(a["start"] <= b["start"] for a, b in itertools.pairwise(ws))
    assert "lazy" in words(" ".join(w["word"] for w in ws))


def test_cli_batch_mirrors_tree_and_survives_a_corrupt_file(
    runner, cli, sample_dir: Path, tmp_path: Path, write_audio, tiny
) -> None:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "hello.wav").write_bytes((sample_dir / "speech" / "hello.wav").read_bytes())
    write_audio("in/quiet.wav", np.zeros(16000, np.float32), 16000)
    (src / "broken.flac").write_bytes(b"fLaC" + os.urandom(200))
    out = tmp_path / "out"
    res = runner.invoke(cli, ["transcribe", "-j", "1", str(src), "-o", str(out), "-f", "txt"])
    assert res.exit_code == 1
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("audiokit:")]
    assert len(errors) == 1 and "broken.flac" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert {"quick", "fox"} <= set(words((out / "sub" / "hello.txt").read_text()))
    assert (out / "quiet.txt").read_text() == ""
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "quiet.txt",
        "sub",
        "sub/hello.txt",
    ]


def test_cli_table_with_summary_in_parallel(
    runner, cli, sample_dir: Path, tmp_path: Path, write_audio, tiny
) -> None:
    import pyarrow.parquet as pq

    silent = write_audio("silent.wav", np.zeros(8000, np.float32), 8000)
    inputs = [
        str(sample_dir / "speech" / "hello.wav"),
        str(sample_dir / "speech" / "with_pauses.flac"),
        str(silent),
    ]
    out = tmp_path / "t.parquet"
    res = runner.invoke(cli, ["transcribe", "-j", "2", *inputs, "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    seg = pq.read_table(out).to_pylist()
    files = pq.read_table(tmp_path / "t.files.parquet").to_pylist()
    assert [f["path"] for f in files] == inputs
    assert [f["segments"] for f in files] == [sum(r["path"] == p for r in seg) for p in inputs]
    assert files[2]["segments"] == 0 and files[2]["text"] == ""
    assert files[0]["duration"] == pytest.approx(6.392, abs=1e-3)
    assert {"lazy", "dog"} <= set(words(files[0]["text"]))
    assert all(r["language"] == "en" and r["end"] >= r["start"] for r in seg)
    assert pq.read_schema(out).metadata[b"audiokit.model"] == b"tiny.en"


def test_cli_interrupt_leaves_no_partial_table(
    runner, cli, sample_dir: Path, tmp_path: Path, monkeypatch, tiny
) -> None:
    import audiokit.cli.transcribe as cmd

    real = cmd._task
    calls = []

    def interrupted(inp, opts, **span):
        calls.append(inp.path)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(inp, opts, **span)

    monkeypatch.setattr(cmd, "_task", interrupted)
    hello = str(sample_dir / "speech" / "hello.wav")
    pauses = str(sample_dir / "speech" / "with_pauses.flac")
    res = runner.invoke(
        cli, ["transcribe", "-j", "1", hello, pauses, "-o", str(tmp_path / "t.jsonl")]
    )
    assert res.exit_code == 130
    assert list(tmp_path.iterdir()) == []


def test_cli_usage_errors(runner, cli, sample_dir: Path) -> None:
    hello = str(sample_dir / "speech" / "hello.wav")
    cases = [
        ["transcribe", hello, "--task", "translate"],
        ["transcribe", hello, "-f", "parquet"],
        ["transcribe", hello, hello.replace("hello.wav", "with_pauses.flac"), "-f", "srt"],
        ["transcribe", hello, "--model", "no-such-model"],
        ["transcribe", hello, "--model", "./missing/dir"],
        ["transcribe", hello, "--compute-type", "float64"],
    ]
    for args in cases:
        res = runner.invoke(cli, args)
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert res.stderr.startswith("audiokit: ") and len(res.stderr.splitlines()) == 1, args


def test_cli_never_overwrites_an_input(runner, cli, tmp_path: Path, write_audio) -> None:
    src = write_audio("x.wav", np.zeros(1600, np.float32), 16000)
    res = runner.invoke(cli, ["transcribe", str(src), "-o", str(src), "-f", "txt"])
    assert res.exit_code == 2 and "writes .txt files" in res.stderr
    odd = tmp_path / "audio.txt"  # audio with a text extension, named as its own output
    odd.write_bytes(src.read_bytes())
    res = runner.invoke(cli, ["transcribe", str(odd), "-o", str(odd), "-f", "txt"])
    assert res.exit_code == 1 and "would overwrite an input" in res.stderr
    assert odd.read_bytes() == src.read_bytes()


def test_cli_list_models(runner, cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AUDIOKIT_CACHE_DIR", str(tmp_path))
    res = runner.invoke(cli, ["transcribe", "--list-models"])
    assert res.exit_code == 0, res.stderr
    rows = {r["name"]: r for r in map(json.loads, res.stdout.splitlines())}
    assert rows["tiny.en"]["status"] == "ready" and rows["tiny.en"]["multilingual"] is False
    assert Path(rows["tiny.en"]["path"], "model.bin").is_file()
    assert rows["base"]["status"] == "not assembled yet"
    assert rows["base"]["path"] == str(tmp_path / "models" / "whisper-base")
    assert not (tmp_path / "models").exists()  # listing never assembles


def test_cuda_falls_back_to_cpu_with_a_note(runner, cli, sample_dir: Path, tiny) -> None:
    import ctranslate2

    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("a GPU is present")
    res = runner.invoke(
        cli, ["transcribe", "-j", "1", "--device", "cuda", str(sample_dir / "speech" / "hello.wav")]
    )
    assert res.exit_code == 0, res.stderr
    assert "CUDA is not available" in res.stderr and "lazy" in res.stdout.lower()


def test_command_module_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, audiokit.cli.transcribe, audiokit.transcribe;"
        "print(sorted(m for m in ('faster_whisper', 'ctranslate2', 'pyarrow',"
        " 'onnxruntime', 'huggingface_hub') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
