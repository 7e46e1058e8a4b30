"""How well each single feature predicts the label on its own (000 §2.1: "could you know
this at prediction time?").

For every feature column a one-feature model is scored out of fold on train: a lookup
table from the column's value (numeric columns: one of 64 quantile bins) to the most common
label (classification) or the mean label (regression). Fitted on at most
AuditOptions.model_sample_cap train rows (a seeded sample; the report says so).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.data.rows import content_columns
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("feature_leakage",)
# Quantile bins of a numeric column: fine enough that a copy of a continuous label keeps
# R² ≈ 1 - 1/64², coarse enough that each bin holds hundreds of rows at the sample cap.
BINS = 64
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


def _folds(n: int, options: AuditOptions) -> np.ndarray:
    """A seeded fold id per row (shuffled K-fold)."""
    folds = max(2, options.cv_folds)
    return np.random.default_rng(options.seed).permutation(np.arange(n) % folds)


def _skill(values: Any, target: np.ndarray, folds: np.ndarray, classification: bool) -> tuple[float, str]:
    if values.dtype.kind in "biuf":
        codes = _quantile_bins(values.to_numpy(dtype=np.float64, na_value=np.nan))
        kind = "numeric"
    else:
        codes, _ = _factorize(values.astype(str))
        kind = "categorical"
    predictions = _table_predictions(codes, target, folds, classification)
    return _score(target, predictions, classification), kind


def _quantile_bins(x: np.ndarray) -> np.ndarray:
    """Bin ids by quantiles of the column itself (no label involved); missing values get a bin of
    their own, since missingness may carry the label too."""
    finite = np.isfinite(x)
    codes = np.full(len(x), BINS, dtype=np.int64)
    if not finite.any():
        return codes
    values = x[finite]
    distinct = np.unique(values)
    if len(distinct) <= BINS:
        codes[finite] = np.searchsorted(distinct, values)
    else:
        edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
        codes[finite] = np.searchsorted(edges, values, side="right")
    return codes


def _table_predictions(codes: np.ndarray, target: np.ndarray, folds: np.ndarray, classification: bool) -> np.ndarray:
    """Out of fold: each bin/category predicts its most common label (classification) or its
    mean (regression) among the other folds' rows; a value unseen there predicts the overall one."""
    codes = np.unique(codes, return_inverse=True)[1].reshape(-1)
    n_codes, n_folds = int(codes.max()) + 1, int(folds.max()) + 1
    if classification:
        n_classes = int(target.max()) + 1
        cells = (folds * n_codes + codes) * n_classes + target
        per_fold = np.bincount(cells, minlength=n_folds * n_codes * n_classes).reshape(n_folds, n_codes, n_classes)
        others = per_fold.sum(axis=0, keepdims=True) - per_fold  # counts from the other folds
        fallback = others.sum(axis=1).argmax(axis=1)  # majority class outside each fold
        table = others.argmax(axis=2)
        table = np.where(others.sum(axis=2) > 0, table, fallback[:, None])
        return table[folds, codes].astype(np.float64)
    cells = folds * n_codes + codes
    sums = np.bincount(cells, weights=target, minlength=n_folds * n_codes).reshape(n_folds, n_codes)
    counts = np.bincount(cells, minlength=n_folds * n_codes).reshape(n_folds, n_codes)
    other_sums, other_counts = sums.sum(axis=0) - sums, counts.sum(axis=0) - counts
    fallback = other_sums.sum(axis=1) / np.maximum(other_counts.sum(axis=1), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = np.where(other_counts > 0, other_sums / np.maximum(other_counts, 1), fallback[:, None])
    return table[folds, codes]


def _score(target: np.ndarray, predictions: np.ndarray, classification: bool) -> float:
    """Classification: balanced accuracy rescaled so chance = 0 and perfect = 1 (the mean
    per-class recall, as sklearn.metrics.balanced_accuracy_score); regression: R², floored at 0."""
    if classification:
        counts = np.bincount(target)
        present = counts > 0
        if present.sum() < 2:
            return 0.0
        hits = np.bincount(target[predictions.astype(np.int64) == target], minlength=len(counts))
        accuracy = float(np.mean(hits[present] / counts[present]))
        chance = 1 / present.sum()
        return float(max(0.0, (accuracy - chance) / (1 - chance)))
    variance = float(np.var(target))
    if variance == 0:
        return 0.0
    return float(max(0.0, 1 - np.mean((target - predictions) ** 2) / variance))
