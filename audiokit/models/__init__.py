"""Models on feature tables: classifiers and anomaly detectors (no click here).

- :mod:`~audiokit.models.data` — feature matrices from tables or computed rows;
- :mod:`~audiokit.models.classify` — the classifier registry, cross-validation, reports,
  predictions;
- :mod:`~audiokit.models.anomaly` — the anomaly detector, its threshold, ROC AUC / pAUC;
- :mod:`~audiokit.models.store` — model files (skops, an allowlist, self-describing);
- :mod:`~audiokit.models.figures` — the confusion matrix as a PNG.
"""
