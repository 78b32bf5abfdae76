"""librosa's building blocks in plain numpy, each ported once.

Importing librosa costs seconds and ~190 MB per process (numba compiles its kernels,
scipy.signal and scipy.stats load), more than drawing a waveform or analysing a
directory of short clips takes. The modules here reproduce librosa 0.11 (same formulas,
windows, padding and dtypes), so that the common paths of ``features``, ``plot`` and
``spectrogram`` never import it. They are organised as librosa is, and named as librosa
names them:

- :mod:`audiokit.dsp.fft`: ``rfft``/``irfft`` (numpy's or scipy's, chosen by the
  transform's size only), ``next_fast_len``;
- :mod:`audiokit.dsp.spectrum`: ``get_window``, ``stft``, ``power_to_db``,
  ``amplitude_to_db``;
- :mod:`audiokit.dsp.filters`: ``mel``, ``chroma``, ``dct``, ``hz_to_mel``,
  ``mel_to_hz``, ``mel_frequencies``, ``fft_frequencies``;
- :mod:`audiokit.dsp.feature`: ``rms``, ``zero_crossing_rate``, ``melspectrogram``,
  ``mfcc``, ``delta``, ``spectral_centroid``/``bandwidth``/``rolloff``/``flatness``/
  ``contrast``, ``chroma_stft``;
- :mod:`audiokit.dsp.onset`: ``onset_strength``, ``peak_pick``, ``onset_detect``;
- :mod:`audiokit.dsp.beat`: ``tempo``, ``beat_track``, ``tempo_frequencies`` and the
  streaming :class:`~audiokit.dsp.beat.Tempogram` (tempo in bounded memory);
- :mod:`audiokit.dsp.util`: ``normalize``, ``zero_crossings``.

Rules: the ports take librosa's keyword names (``y=``, ``S=``, ``sr=``, ``n_fft=``,
``hop_length=``...; arrays keyword-only) and defaults, so that every call of a port is
also a valid call of the librosa function it is named after, with the same result;
they take no audiokit parameter objects. Each has a parity test against librosa in
``tests/test_dsp.py``. ``pyproject.toml`` pins librosa to the minor version mirrored
here (0.11): upgrading it means re-running those tests and porting what changed.

``preemphasis`` (below) stays here until it moves to ``audiokit.dsp.effects``.

This ``__init__`` imports nothing (``audiokit inspect`` loads ``audiokit.dsp`` modules
that must not pull in scipy or librosa): import the submodules themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def preemphasis(
    y: np.ndarray, coef: float, zi: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.effects.preemphasis(y, coef=coef, zi=zi, return_zf=True)`` along the last axis.

    ``y[n] - coef * y[n-1]``; the first output sample adds the filter state
    ``zi`` (librosa's default: ``2 * y[0] - y[1]``). Feed blocks one after the
    other, passing each returned ``zf`` as the next ``zi``.

    Returns
    -------
    y_out : np.ndarray, same shape as ``y``
    zf : np.ndarray, shape (..., 1)
    """
    import numpy as np

    if zi is None:
        zi = 2 * y[..., 0:1] - y[..., 1:2]
    out = y.astype(np.float32, copy=True)
    out[..., 1:] -= coef * y[..., :-1]
    out[..., 0:1] += zi
    return out, (-coef * y[..., -1:]).astype(np.float32)
