"""Headline metrics with 95% intervals, and per-class results.

Proportions (accuracy, per-class recall and precision) get the Wilson interval of
`nndoctor.core.stats` (the same maths as the audit's eval-set-too-small); metrics that
are not proportions (balanced accuracy, F1, AUC, log loss, R², MAE, RMSE) get a
stratified bootstrap (`resample`). With `groups`, every interval comes from a cluster
bootstrap instead, because rows of one patient or site are not independent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nndoctor.core.stats import wilson_interval
from nndoctor.evaluation import resample
from nndoctor.evaluation.inputs import EvalSplit


@dataclass
class Metric:
    """One headline number with its interval. `draws` (bootstrap values, when the interval
    came from resampling) stay in memory for comparisons and are not exported."""

    name: str
    value: float
    low: float
    high: float
    method: str
    n: int
    higher_is_better: bool = True
    proportion: bool = False  # a share of rows (its needed sample size follows Wilson)
    draws: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": round(self.value, 6), "low": round(self.low, 6),
                "high": round(self.high, 6), "method": self.method, "n": self.n,
                "higher_is_better": self.higher_is_better, "proportion": self.proportion}


@dataclass
class SplitMetrics:
    headline: list[Metric]
    per_class: list[dict[str, Any]]
    confusion: np.ndarray | None = None

    def get(self, name: str) -> Metric | None:
        return next((m for m in self.headline if m.name == name), None)


def _from_draws(name: str, value: float, draws: np.ndarray, n: int, method: str, **kw: Any) -> Metric:
    low, high = resample.percentile_interval(draws)
    return Metric(name, float(value), min(low, value), max(high, value), method, n, draws=draws, **kw)


def _proportion(name: str, successes: int, n: int, draws: np.ndarray | None) -> Metric:
    value = successes / n if n else float("nan")
    if draws is not None:  # grouped rows: the cluster bootstrap, not Wilson
        return _from_draws(name, value, draws, n, "cluster bootstrap", proportion=True)
    low, high = wilson_interval(successes, n)
    return Metric(name, value, float(low), float(high), "Wilson", n, proportion=True)


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1e-300), np.nan)


def _confusion_metrics(matrices: np.ndarray, active: np.ndarray) -> dict[str, np.ndarray]:
    """Metrics of (B x) K x K confusion matrices over the classes marked `active`."""
    tp = np.diagonal(matrices, axis1=-2, axis2=-1)
    support = matrices.sum(axis=-1)
    predicted = matrices.sum(axis=-2)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tp / support
    present = support > 0
    balanced = np.nanmean(np.where(present & active, recall, np.nan), axis=-1)
    f1 = _f1(tp, predicted - tp, support - tp)
    macro_f1 = np.nanmean(np.where(active, np.nan_to_num(f1, nan=0.0), np.nan), axis=-1)
    total = support.sum(axis=-1)
    return {"accuracy": tp.sum(axis=-1) / total, "balanced_accuracy": balanced, "macro_f1": macro_f1,
            "f1_positive": f1[..., 1] if matrices.shape[-1] == 2 else None}


def classification_metrics(split: EvalSplit, rng: np.random.Generator) -> SplitMetrics:
    k, n = split.n_classes, split.n
    matrix = resample.confusion_matrix(split.y_true, split.y_pred, k)
    draws = resample.confusion_draws(split.y_true, split.y_pred, k, rng, groups=split.groups)
    active = (matrix.sum(axis=1) > 0) | (matrix.sum(axis=0) > 0)  # sklearn's macro average
    point, boot = _confusion_metrics(matrix[None].astype(float), active), _confusion_metrics(draws, active)
    method = "cluster bootstrap" if split.groups is not None else "stratified bootstrap"
    headline = [_proportion("accuracy", int(np.trace(matrix)), n,
                            boot["accuracy"] if split.groups is not None else None)]
    headline.append(_from_draws("balanced_accuracy", point["balanced_accuracy"][0], boot["balanced_accuracy"],
                                n, method))
    headline.append(_from_draws("macro_f1", point["macro_f1"][0], boot["macro_f1"], n, method))
    if k == 2:
        headline.append(_from_draws("f1", point["f1_positive"][0], boot["f1_positive"], n, method))
    if split.probabilities is not None:
        auc = _auc(split, rng)
        if auc is not None:
            headline.append(auc)
        headline.append(_mean_metric("log_loss", split.losses, split, rng, higher_is_better=False))
    return SplitMetrics(headline, _per_class(matrix, split.classes, split.groups, draws), matrix)


def _auc(split: EvalSplit, rng: np.random.Generator) -> Metric | None:
    probabilities, k = split.probabilities, split.n_classes
    targets = [1] if k == 2 else range(k)
    points, draws = [], []
    for c in targets:
        positive = split.y_true == c
        if positive.all() or not positive.any():
            continue
        value, boot = resample.auc_draws(probabilities[:, c], positive, rng, groups=split.groups)
        points.append(value)
        draws.append(boot)
    if not points:
        return None
    method = "cluster bootstrap" if split.groups is not None else "stratified bootstrap"
    name = "auc" if k == 2 else "auc_macro_ovr"
    return _from_draws(name, float(np.mean(points)), np.mean(draws, axis=0), split.n, method)


def _mean_metric(name: str, values: np.ndarray, split: EvalSplit, rng: np.random.Generator,
                 higher_is_better: bool) -> Metric:
    stats = np.column_stack([np.ones(len(values)), values])
    sums = resample.weighted_sums(stats, rng, groups=split.groups)
    method = "cluster bootstrap" if split.groups is not None else "bootstrap"
    return _from_draws(name, float(values.mean()), sums[:, 1] / sums[:, 0], len(values), method,
                       higher_is_better=higher_is_better)


def _per_class(matrix: np.ndarray, classes: list[Any], groups: np.ndarray | None,
               draws: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    tp_all = np.diagonal(draws, axis1=1, axis2=2)
    for c, label in enumerate(classes):
        tp, support, predicted = int(matrix[c, c]), int(matrix[c].sum()), int(matrix[:, c].sum())
        entry: dict[str, Any] = {"class": label, "support": support, "predicted": predicted}
        for key, denominator, boot_denominator in (("recall", support, draws[:, c].sum(axis=1)),
                                                   ("precision", predicted, draws[:, :, c].sum(axis=1))):
            if denominator == 0:
                entry.update({key: None, f"{key}_low": None, f"{key}_high": None})
                continue
            if groups is None:
                low, high = wilson_interval(tp, denominator)
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    low, high = resample.percentile_interval(tp_all[:, c] / boot_denominator)
            entry.update({key: round(tp / denominator, 6), f"{key}_low": round(float(low), 6),
                          f"{key}_high": round(float(high), 6)})
        errors = matrix[c].copy()
        errors[c] = 0
        entry["f1"] = round(2 * tp / (support + predicted), 6) if support + predicted else None
        entry["most_confused_with"] = classes[int(errors.argmax())] if errors.any() else None
        rows.append(entry)
    return rows


def regression_metrics(split: EvalSplit, rng: np.random.Generator) -> SplitMetrics:
    y, yhat = split.y_true, split.y_pred
    error = yhat - y
    stats = np.column_stack([np.ones(len(y)), error ** 2, np.abs(error), y, y ** 2, yhat, yhat ** 2, y * yhat])
    strata = None if split.groups is not None else resample.target_strata(y)
    sums = resample.weighted_sums(stats, rng, strata=strata, groups=split.groups)
    method = "cluster bootstrap" if split.groups is not None else "stratified bootstrap"
    values = _regression_from_sums(stats.sum(axis=0)[None])
    boot = _regression_from_sums(sums)
    headline = []
    for name, higher in (("r2", True), ("mae", False), ("rmse", False), ("pearson_r", True)):
        if np.isfinite(values[name][0]):
            headline.append(_from_draws(name, values[name][0], boot[name], split.n, method,
                                        higher_is_better=higher))
    return SplitMetrics(headline, [], None)


def _regression_from_sums(s: np.ndarray) -> dict[str, np.ndarray]:
    count, sse, sae, sy, syy, sp, spp, syp = s.T
    with np.errstate(invalid="ignore", divide="ignore"):
        total = syy - sy * sy / count
        covariance = syp - sy * sp / count
        spread = spp - sp * sp / count
        return {"r2": 1 - sse / total, "mae": sae / count, "rmse": np.sqrt(sse / count),
                "pearson_r": covariance / np.sqrt(total * spread)}


def multilabel_metrics(split: EvalSplit, rng: np.random.Generator) -> SplitMetrics:
    y, pred = split.y_true, split.y_pred
    n, labels = y.shape
    tp, fp, fn = y * pred, (1 - y) * pred, y * (1 - pred)
    subset = (y == pred).all(axis=1).astype(float)
    hamming = (y == pred).mean(axis=1)
    stats = np.column_stack([np.ones(n), subset, hamming, tp, fp, fn])
    sums = resample.weighted_sums(stats, rng, groups=split.groups)
    method = "cluster bootstrap" if split.groups is not None else "bootstrap"
    active = (y.sum(axis=0) + pred.sum(axis=0)) > 0

    def macro_f1(s: np.ndarray) -> np.ndarray:
        f1 = _f1(s[:, 3:3 + labels], s[:, 3 + labels:3 + 2 * labels], s[:, 3 + 2 * labels:])
        return np.nanmean(np.where(active, np.nan_to_num(f1, nan=0.0), np.nan), axis=1)

    point = stats.sum(axis=0)[None]
    headline = [_proportion("subset_accuracy", int(subset.sum()), n,
                            sums[:, 1] / sums[:, 0] if split.groups is not None else None),
                _from_draws("hamming_accuracy", float(hamming.mean()), sums[:, 2] / sums[:, 0], n, method),
                _from_draws("macro_f1", float(macro_f1(point)[0]), macro_f1(sums), n, method)]
    per_label = []
    for index, label in enumerate(split.classes):
        true_pos, support, predicted = int(tp[:, index].sum()), int(y[:, index].sum()), int(pred[:, index].sum())
        entry: dict[str, Any] = {"class": label, "support": support, "predicted": predicted}
        for key, denominator in (("recall", support), ("precision", predicted)):
            low, high = wilson_interval(true_pos, denominator) if denominator else (None, None)
            entry.update({key: round(true_pos / denominator, 6) if denominator else None,
                          f"{key}_low": None if low is None else round(float(low), 6),
                          f"{key}_high": None if high is None else round(float(high), 6)})
        entry["f1"] = round(2 * true_pos / (support + predicted), 6) if support + predicted else None
        entry["most_confused_with"] = None
        per_label.append(entry)
    return SplitMetrics(headline, per_label, None)


def split_metrics(split: EvalSplit, rng: np.random.Generator) -> SplitMetrics:
    if split.task == "regression":
        return regression_metrics(split, rng)
    if split.task == "multilabel":
        return multilabel_metrics(split, rng)
    return classification_metrics(split, rng)
