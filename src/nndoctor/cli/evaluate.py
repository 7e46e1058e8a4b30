"""`nndoctor evaluate`: judge a trained model from a file of its predictions (CSV/Parquet/NPZ).

A table has one row per sample: the label column, a prediction column and/or class
probability columns (`prob_<class>`), and any metadata columns to slice by. An NPZ file
holds arrays named y_true (or the --label name), predictions, probabilities, sample_ids,
losses, and the --slices names.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import typer

from nndoctor.cli.common import FAIL_ON_HELP, JSON_HELP, app, check_fail_on, finish, split_names
from nndoctor.cli.recording import NO_RECORD_HELP, begin_recording
from nndoctor.core.errors import UsageError

PREDICTION_COLUMNS = ("prediction", "predictions", "pred", "y_pred", "predicted")
PROBABILITY_PATTERNS = ("prob_*", "proba_*")


def _read(path: Path) -> Any:
    """A DataFrame for tables, a dict of arrays for .npz."""
    if not path.is_file():
        raise UsageError(f"no such file {str(path)!r}")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            import numpy as np

            with np.load(path, allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        import pandas as pd

        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".tsv", ".txt"):
            return pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",")
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    raise UsageError(f"{path}: expected a .csv, .tsv, .parquet or .npz file")


def _class_name(text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else text


def _columns(frame: Any, wanted: list[str], what: str) -> list[str]:
    """Names or glob patterns → existing columns, in file order; unknown names are an error."""
    found: list[str] = []
    for spec in wanted:
        matches = [c for c in frame.columns if fnmatch.fnmatchcase(str(c), spec)] if any(ch in spec for ch in "*?[") \
            else [spec] if spec in frame.columns else []
        if not matches:
            raise UsageError(f"{what}: no column {spec!r}; the columns are {', '.join(map(str, frame.columns[:30]))}")
        found.extend(m for m in matches if m not in found)
    return found


def _split_inputs(data: Any, *, label: str | None, prediction_col: str | None, prob_cols: list[str],
                  id_col: str | None, slice_cols: list[str], group_col: str | None, source: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return _npz_inputs(data, label=label, slice_cols=slice_cols, source=source)
    if label is None:
        raise UsageError("--label is required for a table: the column holding the true labels")
    if label not in data.columns:
        raise UsageError(f"{source}: no label column {label!r}; the columns are {', '.join(map(str, data.columns[:30]))}")
    probability_columns = _columns(data, prob_cols, "--prob-cols") if prob_cols else [
        c for c in data.columns if any(fnmatch.fnmatchcase(str(c), p) for p in PROBABILITY_PATTERNS)]
    if prediction_col is None:
        prediction_col = next((c for c in PREDICTION_COLUMNS if c in data.columns), None)
    elif prediction_col not in data.columns:
        raise UsageError(f"{source}: no prediction column {prediction_col!r}")
    if prediction_col is None and not probability_columns:
        raise UsageError(f"{source}: no prediction column ({'/'.join(PREDICTION_COLUMNS)}) and no probability "
                         "columns (prob_<class>); name them with --prediction-col or --prob-cols")
    inputs: dict[str, Any] = {"y_true": data[label]}
    if probability_columns:
        inputs["probabilities"] = data[probability_columns].to_numpy(dtype=float)
        inputs["classes"] = [_class_name(str(c).split("_", 1)[1]) if "_" in str(c) else c
                             for c in probability_columns]
    inputs["predictions"] = data[prediction_col] if prediction_col is not None else inputs["probabilities"]
    if id_col is not None:
        inputs["sample_ids"] = data[_columns(data, [id_col], "--id-col")[0]]
    if slice_cols:
        inputs["slices"] = data[_columns(data, slice_cols, "--slices")]
    if group_col is not None:
        inputs["groups"] = data[_columns(data, [group_col], "--group-col")[0]]
    return inputs


def _npz_inputs(arrays: dict[str, Any], *, label: str | None, slice_cols: list[str], source: str) -> dict[str, Any]:
    key = label or "y_true"
    if key not in arrays or "predictions" not in arrays and "probabilities" not in arrays:
        raise UsageError(f"{source}: an .npz needs arrays {key!r} and 'predictions' (or 'probabilities'); "
                         f"it has {', '.join(arrays) or 'none'}")
    inputs = {"y_true": arrays[key], "predictions": arrays.get("predictions", arrays.get("probabilities"))}
    for name in ("probabilities", "sample_ids", "losses", "groups"):
        if name in arrays:
            inputs[name] = arrays[name]
    missing = [name for name in slice_cols if name not in arrays]
    if missing:
        raise UsageError(f"{source}: --slices {', '.join(missing)} not among the arrays {', '.join(arrays)}")
    if slice_cols:
        inputs["slices"] = {name: arrays[name] for name in slice_cols}
    return inputs


@app.command("evaluate")
def evaluate_command(
    predictions: Path = typer.Option(..., "--predictions", help="Predictions file: .csv, .tsv, .parquet or .npz."),
    label: str = typer.Option(None, "--label", help="Column with the true labels (NPZ: array name, default y_true)."),
    prediction_col: str = typer.Option(None, "--prediction-col", help="Column with predicted labels/values "
                                       "(default: prediction, pred or y_pred)."),
    prob_cols: list[str] = typer.Option(None, "--prob-cols", help="Class probability columns, names or globs: "
                                        "'prob_*' (default) or p_cat,p_dog."),
    slices: list[str] = typer.Option(None, "--slices", help="Metadata columns to search for weak slices: age,site."),
    test: Path = typer.Option(None, "--test", help="Predictions of the same model on a second split (same columns)."),
    id_col: str = typer.Option(None, "--id-col", help="Column with sample ids shown in findings."),
    group_col: str = typer.Option(None, "--group-col", help="Column naming the independent unit (patient, site)."),
    features: list[str] = typer.Option(None, "--features", help="Feature columns for a linear baseline "
                                       "(cross-validated on these rows)."),
    annotators: list[str] = typer.Option(None, "--annotators", help="Columns with each annotator's label."),
    replicates: list[str] = typer.Option(None, "--replicates", help="Columns with repeated measurements of the target."),
    task: str = typer.Option(None, "--task", help="classification, multilabel or regression (inferred if omitted)."),
    split: str = typer.Option("val", "--split", help="Name of the evaluated split."),
    select: list[str] = typer.Option(None, "--select", help="Only these rule ids (comma-separated)."),
    ignore: list[str] = typer.Option(None, "--ignore", help="Skip these rule ids (comma-separated)."),
    json_path: Path = typer.Option(None, "--json", help=JSON_HELP),
    html: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report with the plots."),
    fail_on: str = typer.Option("error", "--fail-on", help=FAIL_ON_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every skipped check."),
    no_record: bool = typer.Option(False, "--no-record", help=NO_RECORD_HELP),
) -> None:
    """Judge a trained model's predictions: metrics with intervals, baselines, weak classes and slices.

    Example: nndoctor evaluate --predictions val_preds.csv --label y --slices site,age --test test_preds.csv
    """
    check_fail_on(fail_on)
    recording = begin_recording("evaluate", no_record, script=str(predictions))
    options = dict(label=label, prediction_col=prediction_col, prob_cols=split_names(prob_cols), id_col=id_col,
                   slice_cols=split_names(slices), group_col=group_col)
    data = _read(predictions)
    inputs = _split_inputs(data, source=str(predictions), **options)
    classes = inputs.pop("classes", None)
    extra: dict[str, Any] = {}
    for flag, names, key in (("--features", features, "features"), ("--annotators", annotators, "annotators"),
                             ("--replicates", replicates, "replicates")):
        columns = split_names(names)
        if columns:
            if isinstance(data, dict):
                raise UsageError(f"{flag} needs a table (.csv/.parquet), not an .npz")
            extra[key] = data[_columns(data, columns, flag)]
    if "replicates" in extra:
        extra["replicates"] = extra["replicates"].to_numpy(dtype=float)
    second = None
    if test is not None:
        second = _split_inputs(_read(test), source=str(test), **options)
        second.pop("classes", None)
    from nndoctor.evaluation.api import evaluate
    from nndoctor.records.environment import file_fingerprints

    report = evaluate(task=task, split=split, classes=classes, test=second, select=split_names(select) or None,
                      ignore=split_names(ignore) or None, **inputs, **extra)
    report.context["files"] = {name: str(path) for name, path in (("predictions", predictions), ("test", test))
                               if path is not None}
    report.context["data_fingerprints"] = file_fingerprints(report.context["files"])
    from rich.console import Console

    from nndoctor.report.terminal_evaluation import render_evaluation_summary

    console = Console(highlight=False)
    render_evaluation_summary(report.context.get("evaluation", {}), console)
    finish(report, json_path=json_path, fail_on=fail_on, console=console, verbose=verbose, recording=recording,
           html_path=html)
