"""Shared fixtures: sample data, the real-recordings corpus, synthetic signals, the CLI."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
CORPUS = ROOT.parent / "shared" / "corpus"

# librosa's numba kernels are cached on disk, and processes filling one cache at the same
# time can leave it mixed and crash (numba/numba#10128): each xdist worker, and the
# processes it starts, get a cache of their own. (audiokit's own workers are forked after
# a warm-up and never touch the cache: see audiokit/warmup.py and tests/test_warmup.py.)
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ["NUMBA_CACHE_DIR"] = str(
        Path(os.environ.get("NUMBA_CACHE_DIR") or ROOT / ".pytest_cache" / "numba")
        / os.environ["PYTEST_XDIST_WORKER"]
    )


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The committed sample_data/ folder."""
    return SAMPLE_DATA


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """../shared/corpus (real recordings); tests using it skip when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not available")
    return CORPUS


@pytest.fixture
def runner() -> CliRunner:
    """A click test runner (stderr kept apart from stdout)."""
    try:
        return CliRunner(mix_stderr=False)  # click < 8.2
    except TypeError:
        return CliRunner()


@pytest.fixture
def cli():
    """The click group."""
    from audiokit.cli import cli as group

    return group


def sine(
    freq: float = 440.0,
    sr: int = 22050,
    duration: float = 1.0,
    amp: float = 0.5,
    phase: float = 0.0,
) -> np.ndarray:
    """A float32 sine, shape (n,)."""
    t = np.arange(int(round(sr * duration))) / sr
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


@pytest.fixture
def write_audio(tmp_path: Path) -> Callable[..., Path]:
    """Write an array to ``tmp_path/name``; y is (n,) or (channels, n)."""

    def _write(name: str, y: np.ndarray, sr: int, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = y.T if y.ndim == 2 else y
        sf.write(path, data, sr, subtype=subtype)
        return path

    return _write


def have(tool: str) -> bool:
    return shutil.which(tool) is not None


def unknown_length_flac(src: Path, dst: Path) -> Path:
    """Copy a FLAC file as sox, ffmpeg and flac write one to a pipe: no length in its header.

    STREAMINFO (bytes 8-41) holds 10 bytes of block and frame sizes, then 20 bits of
    sample rate, 3 of channels, 5 of bits per sample and 36 of total samples, then the
    MD5 of the audio; a writer that cannot seek back leaves the last two zero.
    """
    data = bytearray(src.read_bytes())
    assert data[:4] == b"fLaC" and data[4] & 0x7F == 0  # STREAMINFO comes first
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    data[26:42] = bytes(16)
    dst.write_bytes(bytes(data))
    return dst
