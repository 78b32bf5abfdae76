"""audio_io.load is librosa.load without importing librosa: same samples, same lengths."""

from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
import pytest

from audiokit import audio_io
from tests.conftest import have, unknown_length_flac


@pytest.mark.parametrize(
    ("name", "sr"),
    [
        ("stereo/pan.wav", 22050),
        ("music/melody.ogg", 16000),
        ("speech/hello.wav", 22050),
        ("tones/chirp.wav", None),
        ("noise/white.wav", 44100),
        ("noise/pink.flac", 8000),
    ],
)
def test_load_equals_librosa_load(sample_dir: Path, name: str, sr: int | None) -> None:
    ours, our_sr = audio_io.load(sample_dir / name, sr=sr)
    ref, ref_sr = librosa.load(sample_dir / name, sr=sr)
    assert our_sr == ref_sr and ours.dtype == np.float32
    np.testing.assert_array_equal(ours, ref)


def test_load_multichannel_and_span(sample_dir: Path) -> None:
    path = sample_dir / "stereo/pan.wav"
    ours, _ = audio_io.load(path, sr=None, mono=False, offset=0.5, duration=1.25)
    ref, _ = librosa.load(path, sr=None, mono=False, offset=0.5, duration=1.25)
    assert ours.shape == ref.shape == (2, 55125)
    np.testing.assert_array_equal(ours, ref)


def test_iter_blocks_reassemble_to_read(sample_dir: Path) -> None:
    path = sample_dir / "speech/with_pauses.flac"
    whole, _ = audio_io.read(path)
    blocks = list(audio_io.iter_blocks(path, blocksize=10_000))
    assert all(len(b) == 10_000 for b in blocks[:-1])
    np.testing.assert_array_equal(np.concatenate(blocks).T, whole)


def test_flac_without_a_length_is_counted_and_read_front_to_back(
    sample_dir: Path, tmp_path: Path
) -> None:
    import soundfile as sf

    src = sample_dir / "speech/with_pauses.flac"
    piped = unknown_length_flac(src, tmp_path / "piped.flac")
    assert sf.info(str(piped)).frames >= 2**62  # libsndfile: "unknown"; it cannot seek in it
    ref, info = audio_io.probe(src), audio_io.probe(piped)
    assert info.counted and not ref.counted and info.frames == ref.frames
    np.testing.assert_array_equal(audio_io.read(piped)[0], audio_io.read(src)[0])
    np.testing.assert_array_equal(
        audio_io.read(piped, offset=0.5, duration=1.0)[0],
        audio_io.read(src, offset=0.5, duration=1.0)[0],
    )
    blocks = list(audio_io.iter_blocks(piped, 10_000, start=1234, stop=50_000))
    expect = list(audio_io.iter_blocks(src, 10_000, start=1234, stop=50_000))
    np.testing.assert_array_equal(np.concatenate(blocks), np.concatenate(expect))
    np.testing.assert_array_equal(audio_io.load(piped, sr=16000)[0], librosa.load(src, sr=16000)[0])


def test_resample_length_and_values_equal_librosa() -> None:
    """soxr rounds the output length; librosa pads to ceil(n * target / sr), and so do we."""
    rng = np.random.default_rng(0)
    for n in (89088, 1001, 12345):
        for sr, target in ((44100, 16000), (48000, 22050), (8000, 44100)):
            x = rng.standard_normal((2, n)).astype(np.float32)
            ours = audio_io.resample(x, sr, target)
            ref = librosa.resample(x, orig_sr=sr, target_sr=target)
            assert ours.shape == ref.shape
            np.testing.assert_array_equal(ours, ref)


needs_ffmpeg = pytest.mark.skipif(not have("ffmpeg"), reason="ffmpeg is not installed")


def _ffmpeg(*args: str) -> None:
    import subprocess

    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@needs_ffmpeg
@pytest.mark.filterwarnings("ignore:PySoundFile failed", "ignore::FutureWarning")
def test_m4a_and_wma_decode_through_ffmpeg_as_librosa_does(tmp_path: Path) -> None:
    m4a, wma = tmp_path / "talk.m4a", tmp_path / "tone.wma"
    _ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", "-ac", "2", "-c:a", "aac", str(m4a))
    _ffmpeg("-f", "lavfi", "-i", "sine=f=300:d=1", "-c:a", "wmav2", str(wma))
    info = audio_io.probe(m4a)
    assert (info.format, info.subtype, info.channels, info.bit_depth) == ("M4A", "AAC", 2, None)
    assert info.source is not None and info.source != str(m4a)
    for path in (m4a, wma):
        for sr in (None, 16000):
            ours, our_sr = audio_io.load(path, sr=sr, mono=False)
            ref, ref_sr = librosa.load(path, sr=sr, mono=False)  # audioread runs ffmpeg too
            assert our_sr == ref_sr
            np.testing.assert_array_equal(ours, ref)


@needs_ffmpeg
def test_ffmpeg_failures_and_absence_are_one_line_reasons(tmp_path: Path, monkeypatch) -> None:
    import shutil

    from audiokit.errors import DecodeError

    silent_video = tmp_path / "clip.mp4"
    _ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=32x32", "-c:v", "mpeg4", str(silent_video))
    with pytest.raises(DecodeError, match=r": ffmpeg cannot decode it: no audio stream$"):
        audio_io.probe(silent_video)
    junk = tmp_path / "junk.m4a"
    junk.write_text("not audio")
    with pytest.raises(DecodeError, match="ffmpeg cannot decode it: Invalid data"):
        audio_io.probe(junk)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DecodeError, match="M4A needs ffmpeg to decode: install ffmpeg"):
        audio_io.probe(junk)


@needs_ffmpeg
def test_ffmpeg_temporary_files_go_away_in_workers_and_at_exit(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    for i in range(3):
        _ffmpeg(
            "-f",
            "lavfi",
            "-i",
            f"sine=f={300 + 100 * i}:d=1",
            "-c:a",
            "aac",
            str(tmp_path / f"{i}.m4a"),
        )
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    res = subprocess.run(
        [sys.executable, "-m", "audiokit", "inspect", str(tmp_path), "--json", "-j", "2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["format"] for r in rows] == ["M4A"] * 3  # found by the directory walk
    assert list((tmp_path / "tmp").iterdir()) == []
