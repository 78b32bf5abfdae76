"""audio_io.load is librosa.load without importing librosa: same samples, same lengths."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from audiokit import audio_io


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
