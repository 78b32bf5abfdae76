"""``audiokit anomaly fit | score | evaluate``: anomaly detection from normal recordings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from audiokit.cli.common import format_value, print_table, refuse_existing_output, table_sink
from audiokit.cli.datasets import Labels, load, params_of
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
from audiokit.errors import ExitStatus, UsageError
from audiokit.features.schema import FeatureParams
from audiokit.inputs import Input
from audiokit.models import anomaly, data, store
from audiokit.output.policy import OutputOptions
from audiokit.output.tables import TableSpec


@click.group("anomaly")
def anomaly_group() -> None:
    """Anomaly detection from recordings of normal operation.

    \\b
    Examples:
      audiokit anomaly fit machine/normal/ -o pump.skops
      audiokit anomaly score pump.skops today/ --fail-on-anomaly   # exit 3 on an anomaly
      audiokit anomaly evaluate pump.skops test/                   # test/normal, test/<other>

    StandardScaler -> PCA -> IsolationForest, fitted on normal recordings (features
    as 'audiokit features' computes them, or a features table). The threshold is the
    normal recordings' own score quantile 1 - --contamination; a higher score is more
    anomalous.
    """


@anomaly_group.command("fit")
@batch_options
@click.option("-o", "--output", metavar="MODEL", required=True, help="Write the model here.")
@click.option(
    "--method",
    type=click.Choice(list(anomaly.METHODS)),
    default="isolation-forest",
    show_default=True,
    help="The detector.",
)
@click.option(
    "--contamination",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=0.05,
    show_default=True,
    help="Share of normal recordings above the threshold (sets the threshold).",
)
@click.option(
    "--pca-components",
    type=click.IntRange(0, 1024),
    default=8,
    show_default=True,
    metavar="N",
    help="PCA components before the forest (0: no PCA; capped by the data).",
)
@seed_option
@json_option
@feature_params_options
@span_options
@output_policy_options(per_file=False, tables=False, update=False)
def fit_cmd(
    batch: BatchOptions,
    output: str,
    method: str,
    contamination: float,
    pca_components: int,
    seed: int,
    as_json: bool,
    params: FeatureParams,
    start: float,
    duration: float | None,
    outputs: OutputOptions,
) -> None:
    """Fit a detector on recordings of normal operation (audio or a features table)."""
    refuse_existing_output(output, outputs)
    ds, run = load(
        batch,
        params,
        Labels(column=None),
        desc="anomaly fit: features",
        start=start,
        duration=duration,
    )
    pipeline, threshold = anomaly.fit(ds.X, method, contamination, pca_components or None, seed)
    normal = anomaly.scores(pipeline, ds.X)
    info = {
        "method": method,
        "contamination": contamination,
        "pca_components": pca_components,
        "threshold": threshold,
        "n_rows": len(ds),
        "seed": seed,
        "normal_scores": {
            "min": float(normal.min()),
            "median": float(sorted(normal)[len(normal) // 2]),
            "max": float(normal.max()),
        },
    }
    model = store.Model("anomaly", pipeline, ds.columns, ds.params or params_of(params), info=info)
    store.save(model, output, replace=outputs.replace)
    if as_json:
        click.echo(json.dumps(info, sort_keys=True))
    elif not batch.quiet:
        click.echo(
            f"{method} on {len(ds)} normal recordings ({len(ds.columns)} features): "
            f"threshold {threshold:.4f}; model written to {output}"
        )
    if run is not None:
        run.exit()


def _rows_of_model(
    model_path: str,
    batch: BatchOptions,
    labels: Labels,
    start: float = 0.0,
    duration: float | None = None,
) -> tuple:
    model = store.load(model_path, kind="anomaly")
    params = FeatureParams.from_dict(model.feature_params)
    ds, run = load(batch, params, labels, desc="anomaly: features", start=start, duration=duration)
    X = data.align(ds, model.columns, model.feature_params)
    return model, ds, X, run


@anomaly_group.command("score")
@click.argument("model_path", metavar="MODEL")
@batch_options
@click.option("-o", "--output", metavar="FILE", help="Write a table; '-' for standard output.")
@click.option(
    "--fail-on-anomaly",
    is_flag=True,
    help=f"Exit {int(ExitStatus.ANOMALY)} when any recording scores as an anomaly (cron alarms).",
)
@json_option
@csv_option
@table_format_option
@span_options
@output_policy_options(per_file=False)
def score_cmd(
    model_path: str,
    batch: BatchOptions,
    output: str | None,
    fail_on_anomaly: bool,
    as_json: bool,
    as_csv: bool,
    table_format: str | None,
    start: float,
    duration: float | None,
    outputs: OutputOptions,
) -> None:
    """Score recordings: path, score, threshold, is_anomaly."""
    model, ds, X, run = _rows_of_model(model_path, batch, Labels(column=None), start, duration)
    threshold = float(model.info["threshold"])
    scored = anomaly.score(model.pipeline, threshold, X, ds.paths)
    columns = ("path", "score", "threshold", "is_anomaly")
    types = {"path": "string", "score": "float64", "threshold": "float64", "is_anomaly": "bool"}
    sink = table_sink(
        output,
        TableSpec(columns, types),
        table_format=table_format,
        as_json=as_json,
        as_csv=as_csv,
        identity={"command": "anomaly score", "model": str(Path(model_path).resolve())},
        metadata={"audiokit.command": "anomaly score"},
        options=outputs,
    )
    with sink:
        sink.open([])
        for s in scored:
            sink.add(Input(s.path, s.path, s.path), [s.row()])
    if sink.rows:
        fmt_score: Any = lambda v: format_value(v, 4)  # noqa: E731
        print_table(
            sink.rows,
            [
                ("path", "file", str),
                ("score", "score", fmt_score),
                ("threshold", "threshold", fmt_score),
                ("is_anomaly", "anomaly", str),
            ],
        )
    failed = run is not None and run.failures
    if fail_on_anomaly and any(s.is_anomaly for s in scored):
        raise click.exceptions.Exit(int(ExitStatus.ANOMALY))
    if failed:
        raise click.exceptions.Exit(int(ExitStatus.FAILED))


@anomaly_group.command("evaluate")
@click.argument("model_path", metavar="MODEL")
@batch_options
@click.option(
    "--normal-label",
    default="normal",
    show_default=True,
    metavar="LABEL",
    help="The label (folder name, or --label-column/--label-pattern value) of normal rows; "
    "every other label is anomalous.",
)
@click.option(
    "--max-fpr",
    type=click.FloatRange(0, 1, min_open=True),
    default=0.1,
    show_default=True,
    help="False-positive rate up to which the partial AUC is taken.",
)
@click.option(
    "--label-column",
    default="label",
    show_default=True,
    metavar="COLUMN",
    help="Table inputs: the column holding each row's label.",
)
@click.option(
    "--label-pattern", metavar="REGEX", help="Labels from file names: the first group of REGEX."
)
@json_option
@span_options
def evaluate_cmd(
    model_path: str,
    batch: BatchOptions,
    normal_label: str,
    max_fpr: float,
    label_column: str,
    label_pattern: str | None,
    as_json: bool,
    start: float,
    duration: float | None,
) -> None:
    """ROC AUC and partial AUC (at --max-fpr) on labelled normal and anomalous recordings."""
    model, ds, X, run = _rows_of_model(
        model_path, batch, Labels(column=label_column, pattern=label_pattern), start, duration
    )
    if ds.labels is None:
        raise UsageError("evaluation needs labels (folders, --label-column or --label-pattern)")
    truth = [lab != normal_label for lab in ds.labels]
    ev = anomaly.evaluate(model.pipeline, float(model.info["threshold"]), X, truth, max_fpr)
    if as_json:
        click.echo(json.dumps(ev.as_dict(), sort_keys=True))
    else:
        click.echo(
            f"ROC AUC {ev.auc:.4f}   pAUC (FPR <= {ev.max_fpr:g}) {ev.pauc:.4f}   "
            f"{ev.n_normal} normal, {ev.n_anomalous} anomalous\n"
            f"at the threshold {ev.threshold:.4f}: {100 * ev.true_positive_rate:.1f} % of "
            f"anomalies flagged, {100 * ev.false_positive_rate:.1f} % of normal recordings"
        )
    if run is not None:
        run.exit()
