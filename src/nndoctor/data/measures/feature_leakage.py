"""How well each single feature predicts the label on its own (000 §2.1: "could you know
this at prediction time?").

For every feature column a one-feature model is scored out of fold on train: a small
decision tree on numeric columns, a category→label table on the others. Fitted on at most
AuditOptions.model_sample_cap train rows (a seeded sample; the report says so).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.rows import content_columns
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("feature_leakage",)
# Leaves of the one-feature trees: enough to carve a leaky feature into class intervals,
# too few to memorise rows (regression needs more leaves to follow a smooth relation).
CLASSIFICATION_LEAVES = 16
REGRESSION_LEAVES = 64
# Below this many labelled rows a near-perfect single feature is not convincing.
MIN_ROWS = 50
# Rows sharing the most common id-like value at most (ids are unique or nearly so).
MONOTONIC_MIN_UNIQUE_FRACTION = 0.95


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    train = data.train
    if train.labels is None:
        m.mark_unavailable("feature_leakage", "no label column given (--label)")
        return
    if len(train) < MIN_ROWS:
        m.mark_unavailable("feature_leakage", f"train has {len(train)} rows; at least {MIN_ROWS} are needed")
        return
    if train.features.shape[1] == 0:
        m.mark_unavailable("feature_leakage", "there are no feature columns to check")
        return
    content_columns(data)  # fills data.cache["id_like_columns"]
    id_like = set(data.cache["id_like_columns"]) | _monotonic_columns(train.features)
    rng = np.random.default_rng(options.seed)
    rows = np.arange(len(train))
    if len(train) > options.model_sample_cap:
        rows = np.sort(rng.choice(len(train), options.model_sample_cap, replace=False))
        data.notes["feature_leakage_sample"] = (
            f"single-feature models fitted on {len(rows)} of {len(train)} train rows (model_sample_cap)"
        )
    features = train.features.iloc[rows]
    labels = train.labels.iloc[rows]
    classification = data.task == "classification"
    if classification:
        target, _ = _factorize(labels)
    else:
        target = labels.to_numpy(dtype=np.float64)
    folds = _folds(len(rows), options)
    results = []
    for column in features.columns:
        skill, kind = _skill(features[column], target, folds, classification)
        results.append({"column": str(column), "skill": skill, "kind": kind, "id_like": str(column) in id_like})
    results.sort(key=lambda r: -r["skill"])
    m["feature_leakage"] = {
        "columns": results, "n_rows": len(rows), "task": data.task,
        "metric": "balanced accuracy rescaled so chance = 0, perfect = 1" if classification else "out-of-fold R²",
        "n_classes": int(target.max() + 1) if classification else None,
    }


def _factorize(values: Any) -> tuple[np.ndarray, Any]:
    import pandas as pd

    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.int64), uniques


def _monotonic_columns(features: Any) -> set[str]:
    """Integer columns that only grow (or only shrink) down the rows: row numbers, timestamps."""
    found = set()
    for column in features.columns:
        values = features[column]
        if values.dtype.kind not in "iu" or len(values) < MIN_ROWS:
            continue
        if values.nunique() < MONOTONIC_MIN_UNIQUE_FRACTION * len(values):
            continue
        if values.is_monotonic_increasing or values.is_monotonic_decreasing:
            found.add(str(column))
    return found


def _folds(n: int, options: AuditOptions) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.model_selection import KFold

    splitter = KFold(n_splits=max(2, options.cv_folds), shuffle=True, random_state=options.seed)
    return list(splitter.split(np.zeros(n)))


def _skill(values: Any, target: np.ndarray, folds: list, classification: bool) -> tuple[float, str]:
    if values.dtype.kind in "biuf":
        x = values.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = np.isfinite(x)
        fill = (np.min(x[finite]) - 1.0) if finite.any() else 0.0
        x = np.where(finite, x, fill)  # missingness itself may carry the label
        predictions = _tree_predictions(x, target, folds, classification)
        kind = "numeric"
    else:
        codes, _ = _factorize(values.astype(str))
        predictions = _table_predictions(codes, target, folds, classification)
        kind = "categorical"
    return _score(target, predictions, classification), kind


def _tree_predictions(x: np.ndarray, target: np.ndarray, folds: list, classification: bool) -> np.ndarray:
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    predictions = np.zeros(len(target), dtype=np.float64)
    for fit_rows, held_rows in folds:
        model = (DecisionTreeClassifier(max_leaf_nodes=CLASSIFICATION_LEAVES, random_state=0) if classification
                 else DecisionTreeRegressor(max_leaf_nodes=REGRESSION_LEAVES, random_state=0))
        model.fit(x[fit_rows, None], target[fit_rows])
        predictions[held_rows] = model.predict(x[held_rows, None])
    return predictions


def _table_predictions(codes: np.ndarray, target: np.ndarray, folds: list, classification: bool) -> np.ndarray:
    """Out of fold: each category predicts its most common label (or mean); unseen → overall."""
    import pandas as pd

    predictions = np.zeros(len(target), dtype=np.float64)
    for fit_rows, held_rows in folds:
        frame = pd.DataFrame({"code": codes[fit_rows], "target": target[fit_rows]})
        if classification:
            table = frame.groupby("code")["target"].agg(lambda s: s.value_counts().idxmax())
            fallback = float(np.bincount(target[fit_rows]).argmax())
        else:
            table = frame.groupby("code")["target"].mean()
            fallback = float(target[fit_rows].mean())
        predictions[held_rows] = pd.Series(codes[held_rows]).map(table).fillna(fallback).to_numpy()
    return predictions


def _score(target: np.ndarray, predictions: np.ndarray, classification: bool) -> float:
    from sklearn.metrics import balanced_accuracy_score, r2_score

    if classification:
        classes = len(np.unique(target))
        if classes < 2:
            return 0.0
        accuracy = balanced_accuracy_score(target, predictions.astype(np.int64))
        return float(max(0.0, (accuracy - 1 / classes) / (1 - 1 / classes)))
    if np.std(target) == 0:
        return 0.0
    return float(max(0.0, r2_score(target, predictions)))
