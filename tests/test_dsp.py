"""The FFT helpers of audiokit.dsp against scipy (the librosa ports are tested with their users)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from audiokit import dsp


def test_next_fast_len_matches_scipy() -> None:
    for n in [*range(1, 2000), 4097, 12345, 99991]:
        assert dsp.next_fast_len(n) == scipy.fft.next_fast_len(n, real=True), n


def test_dct_matrix_is_scipy_orthonormal_dct() -> None:
    x = np.random.default_rng(0).standard_normal((128, 40))
    np.testing.assert_allclose(
        dsp.dct_matrix(20, 128) @ x,
        scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:20],
        atol=1e-12,
    )


@pytest.mark.parametrize("frames", [3, 1200])  # below and above the scipy threshold
def test_rfft_both_paths_agree(frames: int) -> None:
    x = np.random.default_rng(1).standard_normal((frames, 1024)).astype(np.float32)
    assert (x.size >= dsp.SCIPY_FFT_MIN_SIZE) == (frames == 1200)  # with numpy, or scipy if loaded
    spec = dsp.rfft(x, axis=-1)
    assert spec.dtype == np.complex64
    np.testing.assert_allclose(spec, np.fft.rfft(x.astype(np.float64), axis=-1), atol=2e-3)
    back = dsp.irfft(spec, n=1024, axis=-1)
    np.testing.assert_allclose(back, x, atol=1e-5)
