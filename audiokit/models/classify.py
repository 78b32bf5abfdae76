"""Classifiers on feature tables: the tutorials' train, cross-validate and predict.

Each classifier is a scikit-learn pipeline: median imputation (features can be
NaN: deltas of very short clips, contrast bands above Nyquist), standard scaling
where the model needs it, and the estimator (:data:`CLASSIFIERS`). Training
cross-validates with stratified K-fold, or stratified group K-fold when rows
share a source (a speaker, a recording session, a machine: without grouping,
audio datasets leak and the score lies), reports accuracy per fold and the
pooled out-of-fold precision, recall, F1 and confusion matrix, then fits on all
rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from audiokit.errors import UsageError


def _random_forest(seed: int) -> list[Any]:
    from sklearn.ensemble import RandomForestClassifier

    # Threads over the trees; the result does not depend on their number.
    return [RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=-1)]


def _logistic(seed: int) -> list[Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    return [StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed)]


def _gradient_boosting(seed: int) -> list[Any]:
    from sklearn.ensemble import GradientBoostingClassifier

    return [GradientBoostingClassifier(random_state=seed)]


def _svm(seed: int) -> list[Any]:
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    # Platt-scaled probabilities. scikit-learn 1.9 deprecates probability=True for
    # CalibratedClassifierCV, whose inner folds fail on the small classes audio datasets
    # often have; pyproject keeps scikit-learn below 1.11, where the option goes.
    return [StandardScaler(), SVC(kernel="rbf", probability=True, random_state=seed)]


def _knn(seed: int) -> list[Any]:
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.preprocessing import StandardScaler

    return [StandardScaler(), KNeighborsClassifier(n_neighbors=5, weights="distance")]


#: ``--classifier`` name -> the pipeline's steps after imputation (scaled where needed).
CLASSIFIERS: dict[str, Callable[[int], list[Any]]] = {
    "random-forest": _random_forest,
    "logistic": _logistic,
    "gradient-boosting": _gradient_boosting,
    "svm": _svm,
    "knn": _knn,
}


def make_pipeline(name: str, seed: int = 0) -> Any:
    """The pipeline of classifier ``name`` (see :data:`CLASSIFIERS`)."""
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline as chain

    try:
        steps = CLASSIFIERS[name](seed)
    except KeyError:
        raise UsageError(f"unknown classifier {name!r} (use {', '.join(CLASSIFIERS)})") from None
    return chain(SimpleImputer(strategy="median", keep_empty_features=True), *steps)


@dataclass
class ClassReport:
    """Precision, recall, F1 and support of one class (out-of-fold, or held out)."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    """How well a classifier does: cross-validation or a held-out evaluation.

    Attributes
    ----------
    accuracy : float
        Pooled over all rows (out-of-fold predictions for cross-validation).
    fold_accuracy : list of float
        Accuracy of each fold (empty for an evaluation).
    classes : list of str
    per_class : list of ClassReport
    confusion : list of list of int
        ``confusion[i][j]``: rows of class ``classes[i]`` predicted as ``classes[j]``.
    n : int
        Rows.
    grouped : bool
        Folds kept each group on one side.
    """

    accuracy: float
    classes: list[str]
    per_class: list[ClassReport]
    confusion: list[list[int]]
    n: int
    fold_accuracy: list[float] = field(default_factory=list)
    grouped: bool = False

    @property
    def mean(self) -> float:
        return float(np.mean(self.fold_accuracy)) if self.fold_accuracy else self.accuracy

    @property
    def std(self) -> float:
        return float(np.std(self.fold_accuracy)) if self.fold_accuracy else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["accuracy_mean"], d["accuracy_std"] = self.mean, self.std
        return d


def report(y_true: Sequence[str], y_pred: Sequence[str], classes: Sequence[str]) -> Report:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    labels = list(classes)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    per = [
        ClassReport(c, float(p[i]), float(r[i]), float(f[i]), int(s[i]))
        for i, c in enumerate(labels)
    ]
    acc = float(np.mean(np.asarray(y_true) == np.asarray(y_pred))) if len(y_true) else 0.0
    return Report(acc, labels, per, cm.tolist(), len(y_true))


def cross_validate(
    X: np.ndarray,
    y: Sequence[str],
    name: str,
    folds: int = 5,
    groups: Sequence[str] | None = None,
    seed: int = 0,
) -> Report:
    """Stratified (group) K-fold cross-validation of classifier ``name``.

    Raises
    ------
    UsageError
        Fewer than two classes, or fewer rows (groups) per class than folds.
    """
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    labels = np.asarray(y)
    classes = sorted(set(labels.tolist()))
    if len(classes) < 2:
        raise UsageError(f"training needs at least two classes; found {classes or 'none'}")
    counts = {c: int(np.sum(labels == c)) for c in classes}
    smallest = min(counts, key=lambda c: counts[c])
    if folds < 2:
        raise UsageError("--cv must be at least 2")
    if counts[smallest] < folds:
        raise UsageError(
            f"--cv {folds} needs at least {folds} rows per class; {smallest!r} has "
            f"{counts[smallest]} (use a smaller --cv)"
        )
    if groups is not None:
        n_groups = len(set(groups))
        if n_groups < folds:
            raise UsageError(f"--cv {folds} needs at least {folds} groups; there are {n_groups}")
        splitter: Any = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, labels, np.asarray(groups))
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, labels)
    template = make_pipeline(name, seed)
    predicted = np.empty(len(labels), dtype=object)
    fold_acc = []
    for train, test in splits:
        model = _fit(clone(template), X[train], labels[train])
        predicted[test] = model.predict(X[test])
        fold_acc.append(float(np.mean(predicted[test] == labels[test])))
    out = report(labels.tolist(), predicted.tolist(), classes)
    out.fold_accuracy = fold_acc
    out.grouped = groups is not None
    return out


def fit(X: np.ndarray, y: Sequence[str], name: str, seed: int = 0) -> Any:
    """Fit classifier ``name`` on all rows."""
    return _fit(make_pipeline(name, seed), X, np.asarray(y))


def _fit(pipeline: Any, X: np.ndarray, y: np.ndarray) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The `probability` parameter", FutureWarning)
        return pipeline.fit(X, y)


@dataclass
class Prediction:
    """One file's prediction: the label, its probability, and every class's."""

    path: str
    label: str
    confidence: float
    probabilities: dict[str, float]

    def row(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "confidence": self.confidence,
            **{f"prob_{c}": p for c, p in self.probabilities.items()},
        }


def predict(pipeline: Any, X: np.ndarray, paths: Sequence[str]) -> list[Prediction]:
    """Label, confidence and class probabilities (they sum to 1) for each row."""
    proba = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
    classes = [str(c) for c in pipeline.classes_]
    out = []
    for path, row in zip(paths, proba, strict=True):
        k = int(np.argmax(row))
        probabilities = dict(zip(classes, (float(v) for v in row), strict=True))
        out.append(Prediction(path, classes[k], float(row[k]), probabilities))
    return out
