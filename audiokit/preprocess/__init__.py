"""``audiokit preprocess``: resample, mix down, trim, denoise, filter, normalise, cut, encode.

Modules, by responsibility:

* :mod:`~audiokit.preprocess.chain` -- the :class:`Plan` (enabled steps, order, settings),
  ``--chain`` parsing. Light: imported by the CLI at start-up.
* :mod:`~audiokit.preprocess.steps` -- the pure steps ``(y, sr) -> (y, sr)``.
* :mod:`~audiokit.preprocess.loudness` -- peak/RMS/BS.1770 levels, normalisation gain,
  the ceiling and the limiter.
* :mod:`~audiokit.preprocess.output` -- format/subtype/dither, names, atomic writes,
  the :class:`FileReport`.
* :mod:`~audiokit.preprocess.streaming` -- the block-wise path for long files.
* :mod:`~audiokit.preprocess.process` -- one file end to end (the batch task).
"""

from audiokit.preprocess.chain import DEFAULT_ORDER, Plan, build_plan

__all__ = ["DEFAULT_ORDER", "Plan", "build_plan"]
