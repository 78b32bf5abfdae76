"""audio_io.load is librosa.load without importing librosa: same samples, same lengths."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from audiokit import audio_io
from tests.conftest import unknown_length_flac


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
