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
  ``contrast`` (and ``contrast_peaks_valleys``, its dB inputs), ``chroma_stft``;
- :mod:`audiokit.dsp.pitch`: ``piptrack``, ``pitch_tuning``, ``estimate_tuning`` (what
  ``chroma_stft(tuning=None)`` uses) and the streaming
  :class:`~audiokit.dsp.pitch.TuningEstimate` (the same estimate from runs of frames);
- :mod:`audiokit.dsp.onset`: ``onset_strength``, ``peak_pick``, ``onset_detect``;
- :mod:`audiokit.dsp.beat`: ``tempo``, ``beat_track``, ``tempo_frequencies`` and the
  streaming :class:`~audiokit.dsp.beat.Tempogram` (tempo in bounded memory);
- :mod:`audiokit.dsp.util`: ``normalize``, ``zero_crossings``;
- :mod:`audiokit.dsp.effects`: ``preemphasis`` (with ``zi``/``return_zf``, so streaming
  and in-memory paths are the same code);
- :mod:`audiokit.dsp.levels`: the one amplitude-to-dB rule for scalar levels and the
  streaming peak/RMS meter (numpy only: ``inspect`` loads it).

Rules: the ports take librosa's keyword names (``y=``, ``S=``, ``sr=``, ``n_fft=``,
``hop_length=``...; arrays keyword-only) and defaults, so that every call of a port is
also a valid call of the librosa function it is named after, with the same result;
they take no audiokit parameter objects. Each has a parity test against librosa in
``tests/test_dsp.py``. ``pyproject.toml`` pins librosa to the minor version mirrored
here (0.11): upgrading it means re-running those tests and porting what changed.

This ``__init__`` imports nothing (``audiokit inspect`` loads ``audiokit.dsp`` modules
that must not pull in scipy or librosa): import the submodules themselves.
"""
