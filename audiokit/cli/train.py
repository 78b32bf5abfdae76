"""``audiokit train``, ``evaluate`` and ``predict``: classifiers on feature tables or audio."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from audiokit.cli.common import (
    BatchRun,
    format_value,
    print_table,
    refuse_existing_output,
    table_sink,
)
from audiokit.cli.datasets import Labels, features_row, is_table, label_options, load, params_of
from audiokit.cli.feature_options import feature_params_options
from audiokit.cli.options import (
    BatchOptions,
    batch_options,
    csv_option,
    json_option,
    output_policy_options,
    seed_option,
    span_options,
    table_format_option,
)
from audiokit.errors import UsageError
from audiokit.features.schema import FeatureParams
from audiokit.features.warm import warm_up
from audiokit.inputs import Input
from audiokit.models import classify, data, store
from audiokit.models.figures import confusion_png
from audiokit.output.policy import OutputOptions
from audiokit.output.tables import TableSink, TableSpec
from audiokit.writers import atomic_open


def report_options(func: Any) -> Any:
    """``--report FILE.json`` and ``--plot FILE.png``."""
    func = click.option(
        "--plot",
        "plot_path",
        metavar="FILE.png",
        help="Also draw the confusion matrix as a PNG.",
    )(func)
    return click.option(
        "--report",
        "report_path",
        metavar="FILE.json",
        help="Also write the report as JSON.",
    )(func)


def render_report(rep: classify.Report, heading: str, as_json: bool) -> None:
    """The report on stdout: a summary, per-class scores and the confusion matrix."""
    if as_json:
        click.echo(json.dumps(rep.as_dict(), sort_keys=True))
        return
    click.echo(heading)
    if rep.fold_accuracy:
        folds = " ".join(f"{a:.3f}" for a in rep.fold_accuracy)
        click.echo(
            f"accuracy {rep.mean:.3f} ± {rep.std:.3f} over {len(rep.fold_accuracy)} folds "
            f"({folds}); pooled {rep.accuracy:.3f}"
        )
    else:
        click.echo(f"accuracy {rep.accuracy:.3f} over {rep.n} rows")
    rows = [
        {
            "class": c.label,
            "precision": c.precision,
            "recall": c.recall,
            "f1": c.f1,
            "support": c.support,
        }
        for c in rep.per_class
    ]
    cols = (
        [("class", "class", str)]
        + [(k, k, lambda v: format_value(v, 3)) for k in ("precision", "recall", "f1")]
        + [("support", "support", str)]
    )
    print_table(rows, cols)
    width = max(len(c) for c in rep.classes)
    click.echo("confusion (rows: true class, columns: predicted)")
    click.echo(" " * (width + 2) + " ".join(f"{c[:6]:>6}" for c in rep.classes))
    for c, line in zip(rep.classes, rep.confusion, strict=True):
        click.echo(f"{c:>{width}}  " + " ".join(f"{v:>6d}" for v in line))


def write_extras(
    rep: classify.Report,
    report_path: str | None,
    plot_path: str | None,
    title: str,
    replace: bool,
) -> None:

    if report_path is not None:
        with atomic_open(report_path, "w", overwrite=replace, encoding="utf-8") as fh:
            fh.write(json.dumps(rep.as_dict(), indent=2, sort_keys=True) + "\n")
    if plot_path is not None:
        confusion_png(rep.confusion, rep.classes, plot_path, title, replace=replace)


def _need_labels(ds: data.Dataset, what: str) -> list[str]:
    if ds.labels is None:
        raise UsageError(
            f"{what} needs labels: a 'label' column (features --label-from-parent), "
            "--label-column, class folders, or --label-pattern"
        )
    return ds.labels


@click.command(
    "train",
    epilog="""\b
Examples:
  audiokit features data/ -o features.parquet --label-from-parent
  audiokit train features.parquet -o model.skops
  audiokit train data/ -o model.skops --classifier logistic --cv 10   # features computed here
  audiokit train digits/ -o digits.skops --label-pattern '^(\\d+)_' \\
      --group-pattern '^\\d+_([a-z]+)_' --cv 2 --report cv.json --plot confusion.png
  audiokit train --info model.skops
""",
)
@batch_options
@click.option("-o", "--output", metavar="MODEL", help="Write the model here (a skops file).")
@click.option(
    "--classifier",
    type=click.Choice(list(classify.CLASSIFIERS)),
    default="random-forest",
    show_default=True,
    help="The scikit-learn pipeline (scaled where the model needs it).",
)
@click.option(
    "--cv",
    type=click.IntRange(2, 100),
    default=5,
    show_default=True,
    metavar="K",
    help="Folds of the stratified (group) K-fold cross-validation.",
)
@seed_option
@label_options
@report_options
@click.option("--info", "info", metavar="MODEL", help="Print what a model file records and exit.")
@json_option
@feature_params_options
@span_options
@output_policy_options(per_file=False, tables=False, update=False)
def train_cmd(
    batch: BatchOptions,
    output: str | None,
    classifier: str,
    cv: int,
    seed: int,
    report_path: str | None,
    plot_path: str | None,
    info: str | None,
    as_json: bool,
    params: FeatureParams,
    start: float,
    duration: float | None,
    outputs: OutputOptions,
    **kw: Any,
) -> None:
    """Train a classifier on a feature table or on class folders, cross-validated.

    INPUTS: feature tables with a label column (features --label-from-parent), or
    audio in class folders (data/<class>/*.wav), whose features are computed with
    the feature options (as 'audiokit features'). Reports accuracy mean ± std over
    the folds, per-class precision/recall/F1 and the confusion matrix (pooled
    out-of-fold predictions), then fits on every row and writes the model with skops
    (no pickle): the model records its feature parameters, columns, classes, the
    training set's size per class and the CV scores.
    """
    if info is not None:
        model = store.load(info)
        described = store.describe(model)
        if as_json:
            click.echo(json.dumps(described, sort_keys=True, default=str))
        else:
            for k, v in described.items():
                shown = v if k != "columns" else f"{len(v)} ({', '.join(v[:4])}, ...)"
                text = shown if isinstance(shown, str) else json.dumps(shown, default=str)
                click.echo(f"{k}: {text}")
        return
    if output is None:
        raise UsageError("give -o MODEL (or --info MODEL)")
    if not batch.paths and batch.files_from is None:
        raise UsageError("no inputs: give feature tables or audio")
    refuse_existing_output(output, outputs)
    ds, run = load(
        batch, params, Labels.pop(kw), desc="train: features", start=start, duration=duration
    )
    labels = _need_labels(ds, "training")
    rep = classify.cross_validate(ds.X, labels, classifier, cv, ds.groups, seed)
    grouped = " grouped" if rep.grouped else ""
    heading = (
        f"{classifier}, {cv}-fold stratified{grouped} cross-validation over {len(ds)} "
        f"rows ({len(rep.classes)} classes, {len(ds.columns)} features)"
    )
    render_report(rep, heading, as_json)
    write_extras(rep, report_path, plot_path, f"{classifier}: cross-validation", outputs.replace)
    pipeline = classify.fit(ds.X, labels, classifier, seed)
    model = store.Model(
        kind="classifier",
        pipeline=pipeline,
        columns=ds.columns,
        feature_params=ds.params or params_of(params),
        info={
            "classifier": classifier,
            "classes": [str(c) for c in pipeline.classes_],
            "class_counts": ds.counts(),
            "n_rows": len(ds),
            "seed": seed,
            "cv": {
                "folds": cv,
                "grouped": rep.grouped,
                "fold_accuracy": rep.fold_accuracy,
                "accuracy_mean": rep.mean,
                "accuracy_std": rep.std,
            },
        },
    )
    store.save(model, output, replace=outputs.replace)
    if not batch.quiet:
        click.echo(f"audiokit: model written to {output}", err=True)
    if run is not None:
        run.exit()


@click.command(
    "evaluate",
    epilog="""\b
Examples:
  audiokit evaluate model.skops heldout.parquet
  audiokit evaluate model.skops test_data/ --report test.json --plot test.png
""",
)
@click.argument("model_path", metavar="MODEL")
@batch_options
@label_options
@report_options
@json_option
@span_options
@output_policy_options(per_file=False, tables=False, update=False)
def evaluate_cmd(
    model_path: str,
    batch: BatchOptions,
    report_path: str | None,
    plot_path: str | None,
    as_json: bool,
    start: float,
    duration: float | None,
    outputs: OutputOptions,
    **kw: Any,
) -> None:
    """The training report, on held-out data (feature tables or class folders).

    Audio inputs get their features computed with exactly the parameters stored
    in the model; a table made with other parameters or columns is refused.
    """
    model = store.load(model_path, kind="classifier")
    params = FeatureParams.from_dict(model.feature_params)
    ds, run = load(
        batch, params, Labels.pop(kw), desc="evaluate: features", start=start, duration=duration
    )
    labels = _need_labels(ds, "evaluation")
    X = data.align(ds, model.columns, model.feature_params)
    predicted = model.pipeline.predict(X) if len(ds) else np.array([])
    classes = sorted(set(model.classes) | set(labels))
    rep = classify.report(labels, [str(p) for p in predicted], classes)
    render_report(rep, f"{Path(model_path).name} on {len(ds)} held-out rows", as_json)
    write_extras(rep, report_path, plot_path, "held-out evaluation", outputs.replace)
    if run is not None:
        run.exit()


@click.command(
    "predict",
    epilog="""\b
Examples:
  audiokit predict model.skops new_clips/                 # a table on a terminal
  audiokit predict model.skops clip.wav --json | jq .label
  audiokit predict model.skops incoming/ -o predictions.parquet --update
  audiokit predict model.skops features.parquet -o - > predictions.csv
""",
)
@click.argument("model_path", metavar="MODEL")
@batch_options
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help="Write a table: .parquet, .csv, .tsv or .jsonl; '-' for standard output.",
)
@json_option
@csv_option
@table_format_option
@span_options
@output_policy_options(per_file=False)
def predict_cmd(
    model_path: str,
    batch: BatchOptions,
    output: str | None,
    as_json: bool,
    as_csv: bool,
    table_format: str | None,
    start: float,
    duration: float | None,
    outputs: OutputOptions,
) -> None:
    """Predict the class of each file: label, confidence and every class's probability.

    Audio inputs run on the batch engine: the workers compute the features with
    the parameters stored in the model, and the model, loaded once, predicts them
    in batches as they arrive. Feature tables are predicted as they are. One row
    per file: path, label, confidence, prob_<class> (the probabilities sum to 1).
    """

    model = store.load(model_path, kind="classifier")
    prob_cols = [f"prob_{c}" for c in model.classes]
    columns = ("path", "label", "confidence", *prob_cols)
    types = {
        "path": "string",
        "label": "string",
        "confidence": "float64",
        **{c: "float64" for c in prob_cols},
    }
    sink = table_sink(
        output,
        TableSpec(columns, types),
        table_format=table_format,
        as_json=as_json,
        as_csv=as_csv,
        identity={
            "command": "predict",
            "model": str(Path(model_path).resolve()),
            "model_versions": model.info.get("versions"),
            "start": start,
            "duration": duration,
        },
        metadata={"audiokit.command": "predict", "audiokit.model": str(model_path)},
        options=outputs,
    )
    tables = [p for p in batch.paths if is_table(p)]
    if tables:
        if len(tables) != len(batch.paths):
            raise UsageError("give feature tables or audio, not both")
        with sink:
            sink.open([])
            for t in tables:
                ds = data.from_table(t, label_column=None)
                X = data.align(ds, model.columns, model.feature_params)
                for pred in classify.predict(model.pipeline, X, ds.paths):
                    sink.add(Input(pred.path, pred.path, pred.path), [pred.row()])
        _render(sink)
        return
    run = BatchRun(batch, desc="predict", output=output)
    params = FeatureParams.from_dict(model.feature_params)
    task = functools.partial(features_row, params=params, start=start, duration=duration)
    pending: list[tuple[Input, dict[str, Any]]] = []

    def flush() -> None:
        # Many rows at once: a forest predicts 256 rows in about the time of one.
        if not pending:
            return
        ds = data.from_rows([r for _, r in pending], ["path", *model.columns], label_column=None)
        preds = classify.predict(model.pipeline, ds.X, [i.display for i, _ in pending])
        for (inp, _), pred in zip(pending, preds, strict=True):
            sink.add(inp, [pred.row()])
        pending.clear()

    with sink:
        todo = sink.open(run.inputs)
        run.skip(sink.kept_inputs)
        for res in run.run(task, todo, warm_up=functools.partial(warm_up, params)):
            pending.append((res.input, res.value))
            if len(pending) >= PREDICT_BATCH:
                flush()
        flush()
    _render(sink)
    run.exit()


#: Rows predicted at a time (features come from the workers; the model runs here, once).
PREDICT_BATCH = 256


def _render(sink: TableSink) -> None:
    if not sink.rows:
        return
    three: Callable[[Any], str] = functools.partial(format_value, digits=3)
    cols: list[tuple[str, str, Callable[[Any], str]]] = [
        ("path", "file", str),
        ("label", "label", str),
        ("confidence", "confidence", three),
    ]
    probs = [k for k in sink.rows[0] if k.startswith("prob_")]
    cols += [(k, k, three) for k in probs]
    print_table(sink.rows, cols, droppable=probs[::-1])
