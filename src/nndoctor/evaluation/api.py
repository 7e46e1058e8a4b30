"""`nndoctor.evaluate`: how good is the model, compared with what, and where does it fail.

    report = nndoctor.evaluate(y_true, predictions, probabilities=probs, slices=meta_df,
                               test=dict(y_true=y_test, predictions=p_test))

numpy/pandas in, Report out; no deep-learning framework is imported.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from nndoctor.core.capability import Capability, RuleSet, Selection
from nndoctor.core.errors import UsageError
from nndoctor.core.plain import to_plain
from nndoctor.core.report import Report
from nndoctor.data.extra import INSTALL_HINT, MissingExtraError, require
from nndoctor.evaluation.inputs import EvalSplit, class_codes, as_array, prepare_split
from nndoctor.evaluation.measure import MEASUREMENTS, measure_splits

TEST_KEYS = ("y_true", "predictions", "probabilities", "sample_ids", "groups", "slices", "losses")
# A slice smaller than this has a metric too noisy to call weak (Wilson ±17 points at 30 rows).
SLICE_MIN_ROWS = 30
CAPABILITY = Capability("evaluate", "evaluate", frozenset(MEASUREMENTS))


def evaluate(
    y_true: Any,
    predictions: Any,
    *,
    task: str | None = None,
    probabilities: Any = None,
    sample_ids: Any = None,
    groups: Any = None,
    slices: Any = None,
    features: Any = None,
    train_labels: Any = None,
    replicates: Any = None,
    annotators: Any = None,
    split: str = "val",
    test: Mapping[str, Any] | None = None,
    classes: Sequence[Any] | None = None,
    losses: Any = None,
    select: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    seed: int = 0,
    slice_min_rows: int = SLICE_MIN_ROWS,
) -> Report:
    """Evaluate a trained model's predictions on one split (and optionally a second, `test`).

    * `y_true`, `predictions`: per-sample targets and predicted labels (or values). 2-D
      float predictions are taken as class scores (probabilities or logits).
    * `task`: "classification" (binary / multiclass), "multilabel" or "regression";
      inferred from shapes and dtypes when omitted.
    * `probabilities`: n x classes (binary: n or n x 2), columns in sorted class order
      (or `classes=` order). Enables AUC, log loss, calibration and label-error ranking.
    * `sample_ids`: ids shown in findings (default: row numbers). `losses`: per-sample
      loss (default: cross-entropy from the probabilities, squared error for regression).
    * `groups`: patient/site/photo of each row; intervals then resample whole groups.
    * `slices`: DataFrame (or dict) of metadata columns to search for weak slices.
    * `features`: features for a linear baseline — the evaluated rows' features (fitted
      by cross-validation) or `{"train": X_train, "eval": X_eval}` with `train_labels`.
    * `train_labels`: the training targets (majority class / mean baselines from train).
    * `replicates`: n x r repeated measurements of a regression target; `annotators`:
      n x a labels from several annotators — both give the ceiling the labels allow.
    * `split`: the name of this split; `test`: dict(y_true=..., predictions=...,
      probabilities=..., slices=..., sample_ids=...) of the same model on a second split.
    * `select` / `ignore`: rule ids or the area "evaluation"; `thresholds`: {rule: {name: value}}.
    * `seed`: of the bootstrap (results are reproducible); `slice_min_rows`: the smallest
      slice weak-slice tests (and as many rows outside it).

    Returns a Report; `report.context["evaluation"]` holds the metrics with intervals,
    baselines, per-class results, confusion matrix, calibration curve and top-loss rows.
    """
    _require("pandas", "scipy")
    if slice_min_rows < 2:
        raise UsageError(f"slice_min_rows must be at least 2, got {slice_min_rows}")
    rules = RuleSet(CAPABILITY, Selection.resolve(select, ignore, thresholds=thresholds))
    main = prepare_split(split, y_true, predictions, task=task, probabilities=probabilities, classes=classes,
                         sample_ids=sample_ids, losses=losses, slices=slices, groups=groups)
    splits = [main]
    if test is not None:
        splits.append(_second_split(main, test))
    coded_train = None if train_labels is None else _code_train_labels(main, train_labels)
    if features is not None:
        _require("sklearn")
    m, summary = measure_splits(splits, features=features, train_labels=coded_train, replicates=replicates,
                                annotators=annotators, seed=seed, slice_min_rows=slice_min_rows)
    report = rules.judge(m)
    report.context["evaluation"] = to_plain(summary)
    return report


def _require(*modules: str) -> None:
    for module in modules:
        try:
            require(module)
        except MissingExtraError:
            name = {"sklearn": "scikit-learn"}.get(module, module)
            raise MissingExtraError(f"nndoctor evaluate needs {name}, which is not installed; run: {INSTALL_HINT}") \
                from None


def _second_split(main: EvalSplit, test: Mapping[str, Any]) -> EvalSplit:
    if not isinstance(test, Mapping):
        raise UsageError("test must be a dict: test=dict(y_true=..., predictions=..., probabilities=...)")
    unknown = sorted(set(test) - set(TEST_KEYS))
    if unknown:
        raise UsageError(f"test has unknown key(s) {', '.join(unknown)}; expected {', '.join(TEST_KEYS)}")
    if "y_true" not in test or "predictions" not in test:
        raise UsageError("test needs at least y_true= and predictions=")
    name = "test" if main.name != "test" else "test2"
    classes = main.classes if main.task != "regression" else None
    return prepare_split(name, test["y_true"], test["predictions"], task=main.task,
                         probabilities=test.get("probabilities"), classes=classes,
                         sample_ids=test.get("sample_ids"), losses=test.get("losses"),
                         slices=test.get("slices"), groups=test.get("groups"))


def _code_train_labels(main: EvalSplit, train_labels: Any) -> np.ndarray:
    values = as_array(train_labels, "train_labels")
    if main.task == "regression":
        return values.astype(float)
    if main.task == "multilabel":
        if values.ndim != 2 or values.shape[1] != main.y_true.shape[1]:
            raise UsageError(f"train_labels must be n x {main.y_true.shape[1]} (0/1), got {values.shape}")
        return values.astype(np.int64)
    codes, _, _ = class_codes(values, None, None, main.classes)
    return codes


__all__ = ["evaluate"]
