"""Model files: saved with skops, loaded with an allowlist, self-describing.

A model file is a skops archive (a zip of JSON and arrays, not a pickle) holding
one dict: what the model is (``kind``), the versions that made it, the feature
parameters and columns it expects, the classes, the training set's size per class,
the cross-validation scores, and the fitted scikit-learn pipeline. Loading
refuses any type outside :data:`TRUSTED` plus what skops trusts by default, so a
model file from elsewhere cannot run code; a file that is not such an archive is
one clear error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from audiokit import __version__
from audiokit.errors import AudiokitError, InputError, OutputError
from audiokit.output import files

FORMAT = "audiokit-model"
FORMAT_VERSION = 1
KINDS = ("classifier", "anomaly")
#: Types beyond skops' defaults that audiokit's own pipelines contain.
TRUSTED = (
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
)


class ModelError(InputError):
    """A model file that cannot be used: not a model, untrusted content, other features."""


@dataclass
class Model:
    """A fitted model and what it needs to be used.

    Attributes
    ----------
    kind : str
        ``classifier`` or ``anomaly``.
    pipeline : sklearn.pipeline.Pipeline
    columns : list of str
        Feature columns, in the order the pipeline takes them.
    feature_params : dict
        The :class:`~audiokit.features.schema.FeatureParams` the columns were computed with.
    info : dict
        Everything else recorded: versions, classes, class counts, CV scores, threshold...
    """

    kind: str
    pipeline: Any
    columns: list[str]
    feature_params: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return list(self.info.get("classes", []))


def versions() -> dict[str, str]:
    return {"audiokit": __version__, "scikit-learn": version("scikit-learn")}


def save(model: Model, path: str | os.PathLike[str], replace: bool = False) -> None:
    """Write ``model`` to ``path`` atomically (never over an existing file unless ``replace``)."""
    import skops.io as sio

    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "columns": list(model.columns),
        "feature_params": model.feature_params,
        "info": {**model.info, "versions": versions()},
        "pipeline": model.pipeline,
    }
    with files.staged(path, replace=replace) as tmp:
        try:
            sio.dump(record, tmp)
        except OSError:
            raise
        except Exception as exc:
            raise OutputError(f"cannot save the model: {exc}", os.fspath(path)) from None


def load(path: str | os.PathLike[str], kind: str | None = None) -> Model:
    """Read a model file, trusting only audiokit's own types.

    Raises
    ------
    ModelError
        Not a model file, untrusted types inside, or a model of another kind.
    """
    import skops.io as sio

    name = os.fspath(path)
    if not os.path.isfile(name):
        raise ModelError("no such model file", name)
    try:
        untrusted = sio.get_untrusted_types(file=name)
    except Exception:
        raise ModelError("not an audiokit model file (not a skops archive)", name) from None
    refused = sorted(set(untrusted) - set(TRUSTED))
    if refused:
        raise ModelError(
            f"refused: the file holds types audiokit does not trust ({', '.join(refused[:4])})",
            name,
        )
    try:
        record = sio.load(name, trusted=list(untrusted))
    except Exception as exc:
        raise ModelError(f"cannot read the model: {exc}", name) from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ModelError("not an audiokit model file", name)
    if record.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"model format {record.get('format_version')} is not supported", name)
    found = record.get("kind")
    if kind is not None and found != kind:
        article = {"anomaly": "an anomaly", "classifier": "a classifier"}
        raise ModelError(
            f"{article.get(str(found), repr(found))} model, not {article.get(kind, kind)} model",
            name,
        )
    try:
        return Model(
            kind=str(found),
            pipeline=record["pipeline"],
            columns=list(record["columns"]),
            feature_params=dict(record["feature_params"]),
            info=dict(record.get("info", {})),
        )
    except (KeyError, TypeError) as exc:
        raise ModelError(f"an incomplete model file ({exc})", name) from None


def describe(model: Model) -> dict[str, Any]:
    """What ``train --info`` prints: everything but the pipeline."""
    return {
        "kind": model.kind,
        "estimator": _estimator_name(model.pipeline),
        "n_features": len(model.columns),
        "columns": model.columns,
        "feature_params": model.feature_params,
        **model.info,
    }


def _estimator_name(pipeline: Any) -> str:
    try:
        return " -> ".join(type(step).__name__ for _, step in pipeline.steps)
    except AttributeError:
        return type(pipeline).__name__


__all__ = ["AudiokitError", "Model", "ModelError", "describe", "load", "save"]
