"""The best score the labels allow: from experimental replicates or from annotator agreement.

Replicates (regression). Two measurements of the same sample correlate ρ. If y_true is
one replicate (or the mean of k, whose reliability is kρ / (1 + (k-1)ρ), Spearman-Brown),
a model predicting the true signal perfectly correlates at most √reliability with y_true;
a model as good as repeating the experiment correlates `reliability` (000 §4.1: replicates
at 0.85 cap the model).

Annotators (classification). Annotators agree pairwise on a share A of items. Under
symmetric noise (each annotator wrong with probability ε, errors spread over the other
K-1 classes), A = (1-ε)² + ε²/(K-1); solving for ε gives the accuracy of a perfect model
against one annotator's labels, 1-ε, or against the majority vote of m annotators when
y_true is that vote. A second annotator reaches A (or, against a majority vote, the
agreement of one annotator with the majority of the others).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.core.errors import UsageError
from nndoctor.core.stats import fisher_z_interval, wilson_interval
from nndoctor.evaluation.inputs import EvalSplit, as_array
from nndoctor.evaluation.metrics import SplitMetrics


def _spearman_brown(rho: float, k: int) -> float:
    return k * rho / (1 + (k - 1) * rho) if rho > -1 / max(k - 1, 1) else 0.0


def replicate_ceiling(split: EvalSplit, metrics: SplitMetrics, replicates: Any) -> dict[str, Any]:
    values = as_array(replicates, "replicates").astype(float)
    if values.ndim != 2 or values.shape[1] < 2 or len(values) != split.n:
        raise UsageError(f"replicates must be n x r (r >= 2 repeated measurements of each of the {split.n:,} "
                         f"samples), got shape {values.shape}")
    if split.task != "regression":
        raise UsageError("replicates= is for regression targets; for repeated labels use annotators=")
    complete = np.all(np.isfinite(values), axis=1)
    values = values[complete]
    pairs = [(a, b) for a in range(values.shape[1]) for b in range(a + 1, values.shape[1])]
    rho = float(np.mean([np.corrcoef(values[:, a], values[:, b])[0, 1] for a, b in pairs]))
    rho_low, rho_high = fisher_z_interval(rho, len(values))
    is_mean = bool(np.allclose(split.y_true[complete], values.mean(axis=1), rtol=1e-6, atol=1e-9))
    k = values.shape[1] if is_mean else 1
    reliability = _spearman_brown(rho, k)
    model = metrics.get("pearson_r")
    return {
        "source": "replicates", "metric": "pearson_r", "n": int(len(values)), "replicates": values.shape[1],
        "replicate_correlation": round(rho, 6), "replicate_correlation_low": round(rho_low, 6),
        "replicate_correlation_high": round(rho_high, 6), "target_is_replicate_mean": is_mean,
        "reference": round(reliability, 6),
        "ceiling": round(math.sqrt(max(reliability, 0.0)), 6),
        "ceiling_low": round(math.sqrt(max(_spearman_brown(rho_low, k), 0.0)), 6),
        "ceiling_high": round(math.sqrt(max(_spearman_brown(rho_high, k), 0.0)), 6),
        "model": None if model is None else round(model.value, 6),
        "model_low": None if model is None else round(model.low, 6),
        "model_high": None if model is None else round(model.high, 6),
    }


def _annotator_error(agreement: float, classes: int) -> float:
    """ε solving A = (1-ε)² + ε²/(K-1) on the branch ε <= (K-1)/K."""
    a = 1 + 1 / max(classes - 1, 1)
    return (1 - math.sqrt(max(1 - a * (1 - agreement), 0.0))) / a


def _majority_correct(error: float, annotators: int) -> float:
    """P(the majority of m independent annotators is right), ties split evenly."""
    from scipy.stats import binom

    right = np.arange(annotators + 1)
    probability = binom.pmf(right, annotators, 1 - error)
    return float(probability[right * 2 > annotators].sum() + 0.5 * probability[right * 2 == annotators].sum())


def annotator_ceiling(split: EvalSplit, metrics: SplitMetrics, annotators: Any) -> dict[str, Any]:
    import pandas as pd

    from nndoctor.data.measures.annotators import agreement_summary

    if split.task != "classification":
        raise UsageError("annotators= is for single-label classification targets")
    frame = annotators if isinstance(annotators, pd.DataFrame) else pd.DataFrame(as_array(annotators, "annotators"))
    if frame.shape[1] < 2 or len(frame) != split.n:
        raise UsageError(f"annotators must be n x a (a >= 2 annotators' labels for each of the {split.n:,} "
                         f"samples), got shape {frame.shape}")
    index = {str(_plain(c)): i for i, c in enumerate(split.classes)}
    codes = np.array([[index.get(str(_plain(v)), -1) if not pd.isna(v) else -1 for v in row]
                      for row in frame.to_numpy(dtype=object)], dtype=np.int64)
    names = [str(c) for c in frame.columns]
    summary = agreement_summary(codes, names, split.n_classes, split.y_true)
    agreement = summary["mean_pairwise_agreement"]
    if agreement is None:
        raise UsageError("annotators: no item was labelled by two annotators")
    present = max(int((np.bincount(codes[codes >= 0], minlength=split.n_classes) > 0).sum()), 2)
    items = max(int(summary["n_items"]), 1)
    low, high = (float(v) for v in wilson_interval(agreement * items, items))
    votes = np.zeros((split.n, split.n_classes))
    for column in range(codes.shape[1]):
        rated = codes[:, column] >= 0
        np.add.at(votes, (np.flatnonzero(rated), codes[rated, column]), 1)
    is_majority = bool((votes.argmax(axis=1) == split.y_true).mean() >= 0.99)
    m = codes.shape[1]

    def ceiling_for(a: float) -> float:
        error = _annotator_error(a, present)
        return _majority_correct(error, m) if is_majority else 1 - error

    reference = summary["majority_vote_agreement"] if is_majority else agreement
    model = metrics.get("accuracy")
    return {
        "source": "annotators", "metric": "accuracy", "n": items, "annotators": names,
        "mean_pairwise_agreement": agreement, "krippendorff_alpha": summary["krippendorff_alpha"],
        "fleiss_kappa": summary["fleiss_kappa"], "labels_are_majority_vote": is_majority,
        "reference": None if reference is None else round(float(reference), 6),
        "ceiling": round(ceiling_for(agreement), 6), "ceiling_low": round(ceiling_for(low), 6),
        "ceiling_high": round(ceiling_for(high), 6), "model": round(model.value, 6),
        "model_low": round(model.low, 6), "model_high": round(model.high, 6),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
