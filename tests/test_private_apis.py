"""Private APIs of other packages are used only behind a guarded fallback; both paths are run.

- scipy's compiled ``_sosfilt`` kernel (:mod:`audiokit.sosfilt`): saves the 0.6-1 s import of
  ``scipy.signal`` in every ``preprocess`` run; checked at load, dropped on a failed call.
- soundfile's cffi handles (:func:`audiokit.audio_io.sndfile._read_unseekable`): the only way
  to read a FLAC stream without a length (the public reader seeks, and libsndfile cannot seek
  in it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter
from scipy.signal import sosfilt as scipy_sosfilt

from audiokit import audio_io
from audiokit import sosfilt as fast
from audiokit.audio_io import sndfile
from audiokit.errors import DecodeError
from tests.conftest import unknown_length_flac


@pytest.fixture
def fresh_kernel(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Forget the loaded kernel (and any failure) before and after the test."""
    real = fast._kernel
    real.cache_clear()
    monkeypatch.setattr(fast, "_failed", False)
    yield fast
    real.cache_clear()


def _signal() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sos = butter(4, 300, btype="highpass", fs=16000, output="sos")
    x = np.random.default_rng(3).standard_normal((2, 4000)).astype(np.float32)
    zi = np.random.default_rng(4).standard_normal((sos.shape[0], 2, 2))
    return sos, x, zi


def test_the_kernel_path_equals_scipy(fresh_kernel: Any) -> None:
    sos, x, zi = _signal()
    assert fast._kernel() is not None
    got, zf = fast.sosfilt(sos, x, zi=zi)
    ref, ref_zf = scipy_sosfilt(sos, x.astype(np.float64), zi=zi)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(zf, ref_zf)
    assert not fast._failed


def test_the_probe_reference_is_a_biquad_cascade() -> None:
    sos = butter(3, 0.2, output="sos")
    x = np.random.default_rng(0).standard_normal(50)
    np.testing.assert_allclose(fast._reference(sos, x), scipy_sosfilt(sos, x), rtol=1e-12)


def test_a_kernel_that_filters_wrong_is_refused_at_load(
    fresh_kernel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fast, "_load", lambda: lambda sos, y, z: None)  # leaves y as it is
    assert fast._kernel() is None
    sos, x, zi = _signal()
    got, zf = fast.sosfilt(sos, x, zi=zi)
    ref, ref_zf = scipy_sosfilt(sos, x.astype(np.float64), zi=zi)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(zf, ref_zf)


def test_a_kernel_that_cannot_load_leaves_scipy(
    fresh_kernel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom() -> None:
        raise ImportError("another scipy layout")

    monkeypatch.setattr(fast, "_load", boom)
    assert fast._kernel() is None
    sos, x, _ = _signal()
    np.testing.assert_array_equal(fast.sosfilt(sos, x), scipy_sosfilt(sos, x.astype(np.float64)))


def test_a_kernel_whose_call_fails_falls_back_for_good(
    fresh_kernel: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = fast._kernel()
    assert real is not None
    calls = []

    def changed(sos: np.ndarray, y: np.ndarray, z: np.ndarray) -> None:
        calls.append(1)
        raise TypeError("_sosfilt() takes 4 positional arguments")

    monkeypatch.setattr(fast, "_kernel", lambda: changed)
    sos, x, zi = _signal()
    got, zf = fast.sosfilt(sos, x, zi=zi)
    ref, ref_zf = scipy_sosfilt(sos, x.astype(np.float64), zi=zi)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(zf, ref_zf)
    assert fast._failed
    fast.sosfilt(sos, x)
    assert calls == [1]  # not tried again


def _strip_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """As with a soundfile whose private handles are not what audiokit expects."""
    monkeypatch.setattr(sndfile, "_raw_reader", lambda fh: None)


def test_private_handles_are_checked_before_use(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    assert sndfile._raw_reader(SimpleNamespace(channels=1)) is None  # no _file
    fh = SimpleNamespace(_file=object(), channels=1)
    assert sndfile._raw_reader(fh) is not None
    monkeypatch.setattr(sf, "_ffi", SimpleNamespace())  # no cast()
    assert sndfile._raw_reader(fh) is None
    monkeypatch.undo()
    monkeypatch.setattr(sf, "_snd", SimpleNamespace(sf_error=None, sf_error_number=None))
    assert sndfile._raw_reader(fh) is None


def test_soundfile_private_reader_reads_a_flac_without_length(
    sample_dir: Path, tmp_path: Path
) -> None:
    src = sample_dir / "speech/with_pauses.flac"
    piped = unknown_length_flac(src, tmp_path / "piped.flac")
    with sf.SoundFile(str(piped)) as fh:
        assert sndfile._raw_reader(fh) is not None
    np.testing.assert_array_equal(audio_io.read(piped)[0], audio_io.read(src)[0])


def test_without_soundfile_private_handles_files_with_a_length_read_the_same(
    sample_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = sample_dir / "speech/with_pauses.flac"
    with sf.SoundFile(str(src)) as fh:
        expect = np.concatenate([sndfile._read_unseekable(fh, 10_000) for _ in range(3)], axis=0)
    _strip_private(monkeypatch)
    with sf.SoundFile(str(src)) as fh:
        got = np.concatenate([sndfile._read_unseekable(fh, 10_000) for _ in range(3)], axis=0)
    np.testing.assert_array_equal(got, expect)
    np.testing.assert_array_equal(
        got, sf.read(str(src), dtype="float32", always_2d=True, frames=30_000)[0]
    )


def test_without_soundfile_private_handles_a_stream_without_length_is_one_decode_error(
    sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    piped = unknown_length_flac(sample_dir / "speech/with_pauses.flac", tmp_path / "piped.flac")
    _strip_private(monkeypatch)
    with pytest.raises(DecodeError) as exc:
        audio_io.read(piped, audio_io.probe(piped))
    assert "\n" not in str(exc.value)
