"""Headline metrics with 95% intervals, and per-class results.

Proportions (accuracy, per-class recall and precision) get the Wilson interval of
`nndoctor.core.stats` (the same maths as the audit's eval-set-too-small); metrics that
are not proportions get a BCa bootstrap interval (`resample`): stratified by class for
balanced accuracy, F1 and AUC, plain for log loss and the regression metrics (R², MAE,
RMSE, Pearson r). With `groups`, every interval comes from a cluster bootstrap instead,
because rows of one patient or site are not independent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nndoctor.core.stats import wilson_interval
from nndoctor.evaluation import resample
from nndoctor.evaluation.inputs import EvalSplit, cross_entropy


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


def _from_resampled(name: str, result: resample.Resampled, n: int, method: str, **kw: Any) -> Metric:
    low, high = result.interval()
    value = result.point
    return Metric(name, float(value), min(low, value), max(high, value), f"{method} (BCa)", n,
                  draws=result.draws, **kw)


def _proportion(name: str, successes: int, n: int, grouped: resample.Resampled | None) -> Metric:
    if grouped is not None:  # grouped rows: the cluster bootstrap, not Wilson
        return _from_resampled(name, grouped, n, "cluster bootstrap", proportion=True)
    low, high = wilson_interval(successes, n)
    return Metric(name, successes / n, float(low), float(high), "Wilson", n, proportion=True)


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
    resampled = resample.confusion_draws(split.y_true, split.y_pred, k, rng, groups=split.groups)
    matrix = resampled.matrix
    active = (matrix.sum(axis=1) > 0) | (matrix.sum(axis=0) > 0)  # sklearn's macro average

    def statistic(key: str) -> resample.Resampled:
        return resampled.of(lambda matrices: _confusion_metrics(matrices, active)[key])

    method = "cluster bootstrap" if split.groups is not None else "stratified bootstrap"
    headline = [_proportion("accuracy", int(np.trace(matrix)), n,
                            statistic("accuracy") if split.groups is not None else None)]
    headline.append(_from_resampled("balanced_accuracy", statistic("balanced_accuracy"), n, method))
    headline.append(_from_resampled("macro_f1", statistic("macro_f1"), n, method))
    if k == 2:
        headline.append(_from_resampled("f1", statistic("f1_positive"), n, method))
    if split.probabilities is not None:
        auc = _auc(split, rng)
        if auc is not None:
            headline.append(auc)
        # from the probabilities, not `losses`: the user's loss may be another one (focal, weighted)
        headline.append(_mean_metric("log_loss", cross_entropy(split), split, rng, higher_is_better=False))
    return SplitMetrics(headline, _per_class(matrix, split.classes, split.groups, resampled.draws), matrix)


def _auc(split: EvalSplit, rng: np.random.Generator) -> Metric | None:
    present = [c for c in range(split.n_classes) if 0 < int((split.y_true == c).sum()) < split.n]
    method = "cluster bootstrap" if split.groups is not None else "stratified bootstrap"
    if split.n_classes == 2:
        if len(present) < 2:
            return None
        result = resample.auc_resampled(split.probabilities[:, 1], split.y_true == 1, rng, groups=split.groups)
        return _from_resampled("auc", result, split.n, method)
    if not present:
        return None
    result = resample.macro_auc_resampled(split.probabilities, split.y_true, present, rng, groups=split.groups)
    return _from_resampled("auc_macro_ovr", result, split.n, "linearised bootstrap")


def _mean_metric(name: str, values: np.ndarray, split: EvalSplit, rng: np.random.Generator,
                 higher_is_better: bool) -> Metric:
    stats = np.column_stack([np.ones(len(values)), values])
    result = resample.resample_sums(stats, lambda s: s[:, 1] / s[:, 0], rng, groups=split.groups)
    method = "cluster bootstrap" if split.groups is not None else "bootstrap"
    return _from_resampled(name, result, len(values), method, higher_is_better=higher_is_better)


def _per_class(matrix: np.ndarray, classes: list[Any], groups: np.ndarray | None,
               draws: np.ndarray) -> list[dict[str, Any]]:
    """Recall and precision per class: Wilson intervals, or cluster-bootstrap percentiles
    with groups."""
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
    method = "cluster bootstrap" if split.groups is not None else "bootstrap"
    units, unit_strata = resample.resampling_units(len(y), rng, groups=split.groups)
    per_unit = resample.unit_sums(stats, units, len(unit_strata))
    total = per_unit.sum(axis=0)[None]
    sums = resample.resample_units(per_unit, unit_strata, rng)  # one resample shared by all four metrics
    values, boot, jack = (_regression_from_sums(x) for x in (total, sums, total - per_unit))
    headline = []
    for name, higher in (("r2", True), ("mae", False), ("rmse", False), ("pearson_r", True)):
        if np.isfinite(values[name][0]):
            result = resample.Resampled(float(values[name][0]), boot[name], jack[name])
            headline.append(_from_resampled(name, result, split.n, method, higher_is_better=higher))
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
    method = "cluster bootstrap" if split.groups is not None else "bootstrap"
    active = (y.sum(axis=0) + pred.sum(axis=0)) > 0

    def macro_f1(s: np.ndarray) -> np.ndarray:
        f1 = _f1(s[:, 3:3 + labels], s[:, 3 + labels:3 + 2 * labels], s[:, 3 + 2 * labels:])
        return np.nanmean(np.where(active, np.nan_to_num(f1, nan=0.0), np.nan), axis=1)

    grouped = split.groups is not None
    headline = [_proportion("subset_accuracy", int(subset.sum()), n, resample.resample_sums(
                    stats, lambda s: s[:, 1] / s[:, 0], rng, groups=split.groups) if grouped else None),
                _from_resampled("hamming_accuracy", resample.resample_sums(
                    stats, lambda s: s[:, 2] / s[:, 0], rng, groups=split.groups), n, method),
                _from_resampled("macro_f1", resample.resample_sums(stats, macro_f1, rng, groups=split.groups),
                                n, method)]
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
