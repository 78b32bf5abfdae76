"""The first pass's spectra kept for the second (``audiokit.features.kept``).

With librosa's whole-file defaults a file of several blocks takes two passes. When
the spectra fit the budget the second pass reads them from the first pass's shared
map; past it, it computes them again. Both give librosa's values, and the same
values as each other, alone or with workers.
"""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from audiokit.dsp import spectrum
from audiokit.features import FeatureParams, FeatureResult, extract, kept
from audiokit.features.blocks import BLOCK_FRAMES, uses_scipy_fft
from audiokit.features.kept import KeptFrames, Layout, keep_frames, kept_shapes

SR = 22050


def _signal(seconds: float = 12.0) -> np.ndarray:
    """A gliding tone, a stretch of digital silence (the 80 dB floor engages), noise."""
    rng = np.random.default_rng(3)
    t = np.arange(int(seconds * SR)) / SR
    y = 0.4 * np.sin(2 * np.pi * (300 + 40 * t) * t) + 0.01 * rng.standard_normal(len(t))
    y[int(3 * SR) : int(5 * SR)] = 0.0
    return y.astype(np.float32)


@pytest.fixture
def recompute(monkeypatch: pytest.MonkeyPatch) -> None:
    """No spectra kept: the second pass computes them again."""
    monkeypatch.setattr(kept, "KEEP_BUDGET", 0)


def _frames(y: np.ndarray, jobs: int = 1, groups: str = "default,hpss") -> FeatureResult:
    """Frame features in blocks of 97 frames: the groups reading kept spectra, and HPSS's."""
    return extract(y, SR, groups, frames=True, block_frames=97, jobs=jobs)


def test_kept_spectra_give_the_values_of_the_recomputed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    y = _signal()
    made: list[KeptFrames] = []
    real = kept.KeptFrames

    def spy(*a: object) -> KeptFrames:
        made.append(real(*a))  # type: ignore[arg-type]
        return made[-1]

    stft_frames: list[int] = []
    real_stft = spectrum.stft

    def counting_stft(**kw: object) -> np.ndarray:
        D = real_stft(**kw)  # type: ignore[arg-type]
        stft_frames.append(D.shape[-1])
        return D

    monkeypatch.setattr(kept, "KeptFrames", spy)
    monkeypatch.setattr(spectrum, "stft", counting_stft)
    with_kept = _frames(y)
    assert made, "the first pass did not keep its spectra"
    n_frames = with_kept.values.shape[0]
    # each frame's STFT once (pass 1's blocks, plus their few edge frames); none in pass 2
    assert n_frames <= sum(stft_frames) < 1.2 * n_frames
    monkeypatch.setattr(kept, "KEEP_BUDGET", 0)
    n_made = len(made)
    stft_frames.clear()
    again = _frames(y)
    assert len(made) == n_made  # past the budget: nothing kept
    assert sum(stft_frames) > 2 * n_frames  # pass 2 computes its blocks' STFT again
    a, b = with_kept.values, again.values
    cols = with_kept.columns
    assert a.shape == b.shape and a.shape[0] > 3 * 97
    # Columns from the STFT magnitude alone are bit-identical (same frames, same layout)...
    exact = [c.startswith(("spectral_", "chroma", "zcr", "rms")) for c in cols]
    np.testing.assert_array_equal(a[:, exact], b[:, exact])
    # ...the mel product of a shorter block may round its last bit differently.
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=2e-5)


def test_workers_give_the_values_of_one_process() -> None:
    y = _signal()
    with threadpool_limits(1, user_api="blas"):  # as the workers (blocks.single_thread_blas)
        one = _frames(y, jobs=1, groups="default")
    two = _frames(y, jobs=2, groups="default")
    np.testing.assert_array_equal(one.values, two.values)


def test_the_recomputing_second_pass_still_gives_librosas_values(recompute: None) -> None:
    from tests.test_features_librosa import assert_tutorial, tutorial_frames

    y = _signal(8.0)
    res = extract(y, SR, frames=True, block_frames=97)
    assert_tutorial(res.values, tutorial_frames(y), res.columns)


def test_kept_frames_round_trip_in_their_layout() -> None:
    shapes = {
        "S": Layout(5, np.dtype(np.float32), frame_major=True),
        "mel_db_floor": Layout(3, np.dtype(np.float32)),
        "contrast_peak_db": Layout(2, np.dtype(np.float64)),
    }
    k = KeptFrames(10, shapes)
    assert k.nbytes >= 10 * (5 * 4 + 3 * 4 + 2 * 8)
    rng = np.random.default_rng(0)
    full = {
        name: rng.standard_normal((lay.dims, 10)).astype(lay.dtype) for name, lay in shapes.items()
    }
    for name, arr in full.items():
        k.write(name, 0, arr[:, :4])
        k.write(name, 4, arr[:, 4:])
    for name, arr in full.items():
        np.testing.assert_array_equal(k.read(name, 2, 7), arr[:, 2:7])
    assert k.read("S", 0, 10).flags.f_contiguous  # each frame's bins contiguous, as np.fft's
    assert k.read("mel_db_floor", 0, 10).flags.c_contiguous
    assert "S" in k and "tuning" not in k
    k.close()


def test_what_is_kept_follows_the_groups_and_the_budget() -> None:
    assert set(kept_shapes(FeatureParams(), 7)) == {
        "S",
        "mel_db_floor",
        "contrast_peak_db",
        "contrast_valley_db",
    }
    assert set(kept_shapes(FeatureParams(groups=("mfcc",)), 7)) == {"mel_db_floor"}
    assert set(kept_shapes(FeatureParams(groups=("chroma",)), 7)) == {"S"}
    assert keep_frames(FeatureParams(groups=("zcr", "rms")), 1000, 7) is None
    assert keep_frames(FeatureParams(), 1000, 7, budget=1000) is None
    k = keep_frames(FeatureParams(), 1000, 7)
    assert k is not None and k.nbytes == pytest.approx(
        1000 * (1025 * 4 + 128 * 4 + 14 * 8), abs=256
    )
    k.close()


def test_scipy_fft_is_loaded_only_for_big_transforms() -> None:
    p = FeatureParams()
    assert not uses_scipy_fft(p, SR, SR)  # a clip: one small STFT
    assert uses_scipy_fft(p, 60 * SR, SR)  # one block of 2584 frames: a big STFT
    ten = 600 * SR
    assert not uses_scipy_fft(p, ten, SR)  # kept: only the first pass's short blocks
    assert uses_scipy_fft(FeatureParams(frame_local=True), ten, SR)  # blocks of BLOCK_FRAMES
    assert uses_scipy_fft(p, 3600 * SR, SR)  # past the budget: two full passes
    assert 600 * SR // 512 > BLOCK_FRAMES
