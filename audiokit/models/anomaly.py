"""Anomaly detection from recordings of normal operation: the tutorials' detector.

StandardScaler → PCA → IsolationForest (:data:`METHODS`), fitted on normal
recordings only. The anomaly score is the negated IsolationForest score (higher:
more anomalous). The threshold is taken from the normal recordings' own scores:
the ``1 - contamination`` quantile, so that about ``contamination`` of normal
operation would be flagged. Evaluation on labelled data reports ROC AUC and the
partial AUC at FPR 0.1, as the machine-sound anomaly challenges (DCASE) report it
(scikit-learn's ``roc_auc_score(max_fpr=0.1)``, McClish-standardised).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from audiokit.errors import UsageError


def _isolation_forest(contamination: float, components: int | None, seed: int) -> list[Any]:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.preprocessing import StandardScaler

    steps: list[Any] = [StandardScaler()]
    if components:
        steps.append(PCA(n_components=components, random_state=seed))
    steps.append(IsolationForest(n_estimators=200, contamination="auto", random_state=seed))
    return steps


#: ``--method`` name -> the pipeline's steps after imputation.
METHODS: dict[str, Callable[[float, int | None, int], list[Any]]] = {
    "isolation-forest": _isolation_forest,
}


def fit(
    X: np.ndarray,
    method: str = "isolation-forest",
    contamination: float = 0.05,
    components: int | None = 8,
    seed: int = 0,
) -> tuple[Any, float]:
    """Fit the detector on normal rows; return it and its threshold.

    ``components`` is capped at the rows and columns there are (PCA needs that).

    Raises
    ------
    UsageError
        Too few rows, an unknown method, a contamination outside (0, 0.5].
    """
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    if method not in METHODS:
        raise UsageError(f"unknown method {method!r} (use {', '.join(METHODS)})")
    if not 0 < contamination <= 0.5:
        raise UsageError("--contamination must be in (0, 0.5]")
    if len(X) < 4:
        raise UsageError(f"fitting needs at least 4 normal recordings; there are {len(X)}")
    if components:
        components = max(1, min(components, X.shape[0] - 1, X.shape[1]))
    pipeline = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        *METHODS[method](contamination, components, seed),
    ).fit(X)
    threshold = float(np.quantile(scores(pipeline, X), 1 - contamination))
    return pipeline, threshold


def scores(pipeline: Any, X: np.ndarray) -> np.ndarray:
    """Anomaly scores, shape (n,): higher is more anomalous."""
    return -np.asarray(pipeline.score_samples(X), dtype=np.float64)


@dataclass
class Scored:
    """One file's anomaly score against the model's threshold."""

    path: str
    score: float
    threshold: float

    @property
    def is_anomaly(self) -> bool:
        return self.score > self.threshold

    def row(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "score": self.score,
            "threshold": self.threshold,
            "is_anomaly": self.is_anomaly,
        }


def score(pipeline: Any, threshold: float, X: np.ndarray, paths: Sequence[str]) -> list[Scored]:
    return [Scored(p, float(s), threshold) for p, s in zip(paths, scores(pipeline, X), strict=True)]


@dataclass
class Evaluation:
    """Detection quality on labelled rows (``normal`` vs anything else)."""

    auc: float
    pauc: float
    max_fpr: float
    n_normal: int
    n_anomalous: int
    threshold: float
    true_positive_rate: float
    false_positive_rate: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(
    pipeline: Any,
    threshold: float,
    X: np.ndarray,
    is_anomalous: Sequence[bool],
    max_fpr: float = 0.1,
) -> Evaluation:
    """ROC AUC, partial AUC at ``max_fpr``, and the rates at the model's threshold.

    Raises
    ------
    UsageError
        The rows are not a mix of normal and anomalous recordings.
    """
    from sklearn.metrics import roc_auc_score

    truth = np.asarray(is_anomalous, dtype=bool)
    if truth.all() or not truth.any():
        raise UsageError("evaluation needs both normal and anomalous recordings")
    s = scores(pipeline, X)
    flagged = s > threshold
    return Evaluation(
        auc=float(roc_auc_score(truth, s)),
        pauc=float(roc_auc_score(truth, s, max_fpr=max_fpr)),
        max_fpr=max_fpr,
        n_normal=int((~truth).sum()),
        n_anomalous=int(truth.sum()),
        threshold=threshold,
        true_positive_rate=float(flagged[truth].mean()),
        false_positive_rate=float(flagged[~truth].mean()),
    )
