"""Pictures of audio: the service behind ``audiokit plot`` and ``audiokit spectrogram``.

The package is split by responsibility:

- :mod:`audiokit.plots.spectra`: pure computations over numpy arrays (dB
  spectrogram matrices, min/max envelopes, Welch PSD), with streaming
  accumulators so that a 3-hour file is reduced in bounded memory.
- :mod:`audiokit.plots.analysis`: the analyses of the ``features``, ``mfcc``,
  ``chroma`` and ``onsets`` kinds, through the librosa ports of :mod:`audiokit.dsp`
  (so the common pictures skip librosa's import).
- :mod:`audiokit.plots.sources`: spans, channel selection and block reading
  on top of :mod:`audiokit.audio_io`.
- :mod:`audiokit.plots.render`: the Agg backend, light/dark styles, figure
  creation and layout, atomic PNG saving (with DPI metadata), panel geometry.
- :mod:`audiokit.plots.figures`: figure builders (``ax=None``, never save).
- :mod:`audiokit.plots.options`: the figure and analysis options and the jobs.
- :mod:`audiokit.plots.kinds`: the kinds of ``audiokit plot`` (``DRAWERS``).
- :mod:`audiokit.plots.spectrogram`: ``audiokit spectrogram`` and its ``--data``.
- :mod:`audiokit.plots.tasks`: options, results and the batch tasks.

Nothing here imports matplotlib, librosa or scipy at module level.
"""

from __future__ import annotations

KINDS: tuple[str, ...] = (
    "waveform",
    "spectrum",
    "psd",
    "features",
    "zcr",
    "mfcc",
    "chroma",
    "onsets",
    "overview",
)
"""Kinds of ``audiokit plot``."""

SCALES: tuple[str, ...] = ("linear", "log", "mel")
"""Frequency scales of ``audiokit spectrogram``."""
