"""``audiokit preprocess``: resample, mix down, trim, denoise, filter, normalise, cut, encode.

Modules, by responsibility:

* :mod:`~audiokit.preprocess.registry` -- the step table :data:`STEPS` (names, options,
  checks, in-memory function, block processor, whole-signal/exact/sink flags). Light: the
  CLI builds ``--help`` from it; :mod:`~audiokit.preprocess.spec` holds its types.
* :mod:`~audiokit.preprocess.chain` -- the :class:`Plan` (enabled steps, order, settings),
  ``--chain`` parsing, the checks; driven by the table. Light.
* :mod:`~audiokit.preprocess.steps` -- the pure steps ``(y, sr) -> (y, sr)``.
* :mod:`~audiokit.preprocess.blocks` -- the blockable steps as block processors (the
  in-memory steps feed them the whole signal: one code path).
* :mod:`~audiokit.preprocess.apply` -- each step over the chunks with its plan settings
  (the in-memory path).
* :mod:`~audiokit.preprocess.loudness` -- BS.1770 loudness, normalisation gain, the
  ceiling and the limiter (peak and RMS: :mod:`audiokit.dsp.levels`).
* :mod:`~audiokit.preprocess.output` -- format/subtype/dither, names, atomic writes,
  the :class:`FileReport`.
* :mod:`~audiokit.preprocess.job` -- the :class:`Job` of a batch, memory estimate, report start.
* :mod:`~audiokit.preprocess.streaming` -- the block-wise path for long files.
* :mod:`~audiokit.preprocess.process` -- one file end to end (the batch task).
"""

from audiokit.preprocess.chain import DEFAULT_ORDER, Plan, build_plan

__all__ = ["DEFAULT_ORDER", "Plan", "build_plan"]
