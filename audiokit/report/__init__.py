"""A whole dataset at a glance: the service behind ``audiokit report`` (no click here).

- :mod:`~audiokit.report.collect` — inspect's rows for every input, measured on the batch
  engine, or kept from the inspect table beside the report (``--update``);
- :mod:`~audiokit.report.summary` — counts, totals, class balance and robust outliers
  (typed dataclasses, pure functions over the rows);
- :mod:`~audiokit.report.figures` — histograms and spectrogram thumbnails as PNG bytes;
- :mod:`~audiokit.report.page` — the page model both formats lay out;
- :mod:`~audiokit.report.html`, :mod:`~audiokit.report.markdown` — the two layouts;
- :mod:`~audiokit.report.write` — atomic writing through :mod:`audiokit.output`.
"""
