"""Per-slice results: where in the metadata (site, age, scanner…) the model does worse.

Each metadata column is cut into slices (its values — the `MAX_VALUES_PER_COLUMN` most
frequent — or quantile bins of a numeric column, and "missing"), and every pair of
columns into their crossings. A slice with at least `min_rows` rows (and as many outside
it) is compared with the rest of the rows on the per-row score (correct/incorrect for
classification, mean label accuracy for multi-label, absolute error for regression) with
a one-sided test: two proportions (pooled z) for 0/1 scores, Welch's t otherwise. The
p-values of every tested slice go to the rule, which applies Benjamini-Hochberg over the
whole family, so testing more slices does not produce more false alarms.
"""
from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np

from nndoctor.evaluation.inputs import EvalSplit

MAX_VALUES_PER_COLUMN = 20
NUMERIC_BINS = 5
# A numeric column with at most this many distinct values is sliced by value, not binned.
MAX_DISTINCT_FOR_VALUES = 10
MAX_COLUMNS_FOR_PAIRS = 8


def row_scores(split: EvalSplit) -> tuple[np.ndarray, bool, str]:
    """Per-row score (higher is better), whether it is 0/1, and the metric it averages to."""
    if split.task == "regression":
        return -np.abs(split.y_pred - split.y_true), False, "mae"
    if split.task == "multilabel":
        return (split.y_true == split.y_pred).mean(axis=1), False, "hamming_accuracy"
    return (split.y_pred == split.y_true).astype(float), True, "accuracy"


def _column_codes(values: Any) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 = not sliced) and a readable name per slice of one column."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna().to_numpy()
    name = str(series.name)
    numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
    if numeric and series.nunique() > MAX_DISTINCT_FOR_VALUES:
        bins = pd.qcut(series, NUMERIC_BINS, duplicates="drop")
        codes = bins.cat.codes.to_numpy().astype(np.int64)
        labels = [f"{name} in [{_number(b.left)}, {_number(b.right)}]" for b in bins.cat.categories]
    else:
        counts = series[~missing].astype(str).value_counts()
        kept = list(counts.index[:MAX_VALUES_PER_COLUMN])
        index = {value: i for i, value in enumerate(kept)}
        codes = np.array([index.get(v, -1) for v in series.astype(str)], dtype=np.int64)
        labels = [f"{name} = {value}" for value in kept]
    if missing.any():
        codes = np.where(missing, len(labels), codes)
        labels.append(f"{name} is missing")
    return codes, labels


def _number(value: float) -> str:
    return f"{value:.4g}"


def _one_sided_p(slice_sum: np.ndarray, slice_sq: np.ndarray, slice_n: np.ndarray, total_sum: float,
                 total_sq: float, total_n: int, binary: bool) -> np.ndarray:
    """P(slice mean this far below the rest by chance), one p-value per slice."""
    from scipy.stats import norm, t

    rest_n = total_n - slice_n
    slice_mean, rest_mean = slice_sum / slice_n, (total_sum - slice_sum) / rest_n
    gap = rest_mean - slice_mean
    with np.errstate(invalid="ignore", divide="ignore"):
        if binary:
            pooled = total_sum / total_n
            se = np.sqrt(pooled * (1 - pooled) * (1 / slice_n + 1 / rest_n))
            return np.where(se > 0, norm.sf(gap / se), 1.0)
        slice_var = np.maximum(slice_sq / slice_n - slice_mean ** 2, 0) * slice_n / np.maximum(slice_n - 1, 1)
        rest_var_raw = (total_sq - slice_sq) / rest_n - rest_mean ** 2
        rest_var = np.maximum(rest_var_raw, 0) * rest_n / np.maximum(rest_n - 1, 1)
        a, b = slice_var / slice_n, rest_var / rest_n
        se = np.sqrt(a + b)
        dof = (a + b) ** 2 / np.maximum(a ** 2 / np.maximum(slice_n - 1, 1) + b ** 2 / np.maximum(rest_n - 1, 1),
                                        1e-300)
        return np.where(se > 0, t.sf(gap / np.where(se > 0, se, 1), np.maximum(dof, 1)), 1.0)


def slice_results(split: EvalSplit, *, min_rows: int) -> dict[str, Any] | None:
    """Every slice of `split.slices` (single columns and pairs) with its test against the rest."""
    if split.slices is None or split.slices.shape[1] == 0:
        return None
    scores, binary, metric = row_scores(split)
    n = split.n
    total_sum, total_sq = float(scores.sum()), float((scores ** 2).sum())
    columns = {str(name): _column_codes(split.slices[name]) for name in split.slices.columns}
    families: list[tuple[tuple[str, ...], np.ndarray, list[str]]] = [
        ((name,), codes, labels) for name, (codes, labels) in columns.items()]
    for a, b in combinations(list(columns)[:MAX_COLUMNS_FOR_PAIRS], 2):
        (codes_a, labels_a), (codes_b, labels_b) = columns[a], columns[b]
        valid = (codes_a >= 0) & (codes_b >= 0)
        combined = np.where(valid, codes_a * len(labels_b) + codes_b, -1)
        labels = [f"{la} & {lb}" for la in labels_a for lb in labels_b]
        families.append(((a, b), combined, labels))
    tested = []
    for column_names, codes, labels in families:
        valid = codes >= 0
        size = len(labels)
        counts = np.bincount(codes[valid], minlength=size)
        sums = np.bincount(codes[valid], weights=scores[valid], minlength=size)
        squares = np.bincount(codes[valid], weights=scores[valid] ** 2, minlength=size)
        eligible = np.flatnonzero((counts >= min_rows) & (n - counts >= min_rows))
        if not len(eligible):
            continue
        p_values = _one_sided_p(sums[eligible], squares[eligible], counts[eligible], total_sum, total_sq, n,
                                binary)
        for index, p in zip(eligible, p_values):
            slice_mean = sums[index] / counts[index]
            rest_mean = (total_sum - sums[index]) / (n - counts[index])
            tested.append({
                "slice": labels[index], "columns": list(column_names), "n": int(counts[index]),
                "metric_in_slice": float(-slice_mean if metric == "mae" else slice_mean),
                "metric_elsewhere": float(-rest_mean if metric == "mae" else rest_mean),
                "drop": float(rest_mean - slice_mean), "p_value": float(p),
            })
    overall = total_sum / n
    return {"metric": metric, "higher_is_better": metric != "mae", "overall": float(-overall if metric == "mae" else overall),
            "n": n, "min_rows": min_rows, "columns": list(columns), "tested": tested}
