"""Validation against test: do the two splits tell the same story about the model? (004)

For each headline metric both splits have, the difference first - second with a 95%
interval: accuracy on two independent splits by Newcombe's score interval; accuracy on
the very same samples (identical sample ids) by McNemar's paired comparison (exact
binomial p-value on the discordant samples); other metrics by the difference of the two
splits' independent bootstrap draws.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.core.stats import Z_95, newcombe_difference
from nndoctor.evaluation import resample
from nndoctor.evaluation.inputs import EvalSplit
from nndoctor.evaluation.metrics import SplitMetrics


def _same_samples(first: EvalSplit, second: EvalSplit) -> np.ndarray | None:
    """Index into `second` aligning it with `first` when both hold exactly the same ids."""
    if first.n != second.n or first.task != second.task:
        return None
    if len(set(first.sample_ids.tolist())) != first.n:
        return None
    position = {key: i for i, key in enumerate(second.sample_ids.tolist())}
    if set(position) != set(first.sample_ids.tolist()):
        return None
    return np.array([position[key] for key in first.sample_ids.tolist()])


def _mcnemar(first_correct: np.ndarray, second_correct: np.ndarray) -> dict[str, Any]:
    from scipy.stats import binomtest

    n = len(first_correct)
    only_first = int((first_correct & ~second_correct).sum())
    only_second = int((~first_correct & second_correct).sum())
    difference = (only_first - only_second) / n
    spread = math.sqrt(max((only_first + only_second) / n ** 2 - (only_first - only_second) ** 2 / n ** 3, 0.0))
    discordant = only_first + only_second
    p_value = binomtest(only_first, discordant).pvalue if discordant else 1.0
    return {"difference": difference, "low": difference - Z_95 * spread, "high": difference + Z_95 * spread,
            "method": "McNemar (paired, same samples)", "paired": True, "p_value": float(p_value),
            "discordant": discordant}


def compare_splits(first: EvalSplit, first_metrics: SplitMetrics, second: EvalSplit,
                   second_metrics: SplitMetrics) -> list[dict[str, Any]]:
    aligned = _same_samples(first, second)
    rows = []
    for metric in first_metrics.headline:
        other = second_metrics.get(metric.name)
        if other is None:
            continue
        entry: dict[str, Any] = {"metric": metric.name, "first": first.name, "second": second.name,
                                 "first_value": metric.value, "second_value": other.value,
                                 "higher_is_better": metric.higher_is_better, "n_first": first.n,
                                 "n_second": second.n}
        if metric.name == "accuracy" and aligned is not None and first.task == "classification":
            entry.update(_mcnemar(first.y_pred == first.y_true,
                                  second.y_pred[aligned] == second.y_true[aligned]))
        elif metric.proportion and metric.draws is None and other.draws is None:
            difference, low, high = newcombe_difference(round(metric.value * metric.n), metric.n,
                                                        round(other.value * other.n), other.n)
            entry.update({"difference": difference, "low": low, "high": high, "method": "Newcombe",
                          "paired": False})
        elif metric.draws is not None and other.draws is not None:
            size = min(len(metric.draws), len(other.draws))
            low, high = resample.percentile_interval(metric.draws[:size] - other.draws[:size])
            entry.update({"difference": metric.value - other.value, "low": low, "high": high,
                          "method": "independent bootstrap", "paired": False})
        else:
            continue
        rows.append(entry)
    return rows
