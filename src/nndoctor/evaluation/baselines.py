"""The model against what a trivial predictor and a linear model reach on the same rows (000 §4.1).

Trivial baselines need no features: the majority class (or the train prior), chance
balanced accuracy (1/K for any constant or random predictor), the prior's log loss, and
for regression the mean and median of the training target. With `features`, a logistic
(classification) or ridge (regression) model is fitted on the training features, or
cross-validated on the evaluation rows when only those are given.

Each comparison is an improvement (positive = the model is better) with a 95% paired
bootstrap interval: per-row differences on the same rows, resampled together, so the
interval is much narrower than comparing two separate intervals.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from nndoctor.core.errors import UsageError
from nndoctor.evaluation import resample
from nndoctor.evaluation.inputs import PROBABILITY_CLIP, EvalSplit, as_array, cross_entropy
from nndoctor.evaluation.metrics import SplitMetrics

# Fitting the linear baseline on more rows than this changes little and costs time.
LINEAR_FIT_ROW_CAP = 50_000
CROSS_VALIDATION_FOLDS = 5


def _paired(name: str, kind: str, metric: str, model_rows: np.ndarray, baseline_rows: np.ndarray,
            split: EvalSplit, rng: np.random.Generator, higher_is_better: bool, **extra: Any) -> dict[str, Any]:
    """Compare per-row values of a metric that is a mean over rows (accuracy, loss, error)."""
    gain = model_rows - baseline_rows if higher_is_better else baseline_rows - model_rows
    strata = None if split.task != "classification" or split.groups is not None else split.y_true
    result = resample.resample_sums(np.column_stack([np.ones(len(gain)), gain]), lambda s: s[:, 1] / s[:, 0],
                                    rng, strata=strata, groups=split.groups)
    low, high = result.interval()
    return {"baseline": name, "kind": kind, "metric": metric, "model": float(model_rows.mean()),
            "baseline_value": float(baseline_rows.mean()), "improvement": float(gain.mean()),
            "low": min(low, float(gain.mean())), "high": max(high, float(gain.mean())),
            "higher_is_better": higher_is_better, "method": "paired bootstrap (BCa)",
            "n": split.n, **extra}


def _against_constant(name: str, metric: str, measured: Any, constant: float) -> dict[str, Any]:
    """A metric whose baseline value is a known constant (chance balanced accuracy)."""
    return {"baseline": name, "kind": "trivial", "metric": metric, "model": measured.value,
            "baseline_value": constant, "improvement": measured.value - constant,
            "low": measured.low - constant, "high": measured.high - constant, "higher_is_better": True,
            "method": measured.method, "n": measured.n}


def _class_prior(split: EvalSplit, train_codes: np.ndarray | None) -> tuple[np.ndarray, str]:
    codes, source = (train_codes, "train labels") if train_codes is not None else (split.y_true, "evaluation labels")
    counts = np.bincount(codes, minlength=split.n_classes).astype(float)
    return counts / counts.sum(), source


def trivial_baselines(split: EvalSplit, metrics: SplitMetrics, rng: np.random.Generator,
                      train_labels: np.ndarray | None) -> list[dict[str, Any]]:
    if split.task == "regression":
        reference = split.y_true if train_labels is None else train_labels.astype(float)
        source = "train labels" if train_labels is not None else "evaluation labels"
        mean, median = float(reference.mean()), float(np.median(reference))
        return [
            _paired("always the mean", "trivial", "mse", (split.y_pred - split.y_true) ** 2,
                    (mean - split.y_true) ** 2, split, rng, False, constant=mean, fitted_on=source),
            _paired("always the median", "trivial", "mae", np.abs(split.y_pred - split.y_true),
                    np.abs(median - split.y_true), split, rng, False, constant=median, fitted_on=source),
        ]
    if split.task == "multilabel":
        reference = split.y_true if train_labels is None else train_labels
        majority = (reference.mean(axis=0) >= 0.5).astype(np.int64)
        return [_paired("each label's majority value", "trivial", "hamming_accuracy", (split.y_true == split.y_pred).mean(axis=1),
                        (split.y_true == majority).mean(axis=1), split, rng, True)]
    prior, source = _class_prior(split, train_labels)
    majority = int(prior.argmax())
    model_correct = (split.y_pred == split.y_true).astype(float)
    found = [_paired("always the majority class", "trivial", "accuracy", model_correct,
                     (split.y_true == majority).astype(float), split, rng, True,
                     constant=split.classes[majority], fitted_on=source)]
    balanced = metrics.get("balanced_accuracy")
    present = int((np.bincount(split.y_true, minlength=split.n_classes) > 0).sum())
    found.append(_against_constant("chance level (1/K)", "balanced_accuracy", balanced, 1.0 / present))
    if split.probabilities is not None:
        prior_loss = -np.log(np.clip(prior, PROBABILITY_CLIP, 1))[split.y_true]
        found.append(_paired("the class prior as probabilities", "trivial", "log_loss", cross_entropy(split), prior_loss,
                             split, rng, False,
                             fitted_on=source))
    return found


def _design_matrix(values: Any, name: str) -> np.ndarray:
    if hasattr(values, "select_dtypes"):
        import pandas as pd

        return pd.get_dummies(values, dummy_na=True).to_numpy(dtype=float)
    array = np.asarray(as_array(values, name), dtype=float)
    return array[:, None] if array.ndim == 1 else array


def linear_baseline(split: EvalSplit, features: Any, train_labels: np.ndarray | None,
                    rng: np.random.Generator, seed: int) -> dict[str, Any] | None:
    """Fit a linear model and compare it with the model on the evaluation rows; None for
    multi-label targets (no single linear reference)."""
    if split.task == "multilabel":
        return None
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import StratifiedKFold, KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    regression = split.task == "regression"
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0) if regression else LogisticRegression(max_iter=500))
    if isinstance(features, dict):
        if "train" not in features or "eval" not in features:
            raise UsageError("features as a dict needs the keys 'train' and 'eval' (the evaluated rows)")
        if train_labels is None:
            raise UsageError("features={'train': ...} needs train_labels= to fit the linear baseline")
        x_train, x_eval = _design_matrix(features["train"], "features['train']"), _design_matrix(features["eval"], "features['eval']")
        if len(x_train) != len(train_labels) or len(x_eval) != split.n:
            raise UsageError(f"features: train has {len(x_train):,} rows for {len(train_labels):,} train labels, "
                             f"eval has {len(x_eval):,} rows for {split.n:,} evaluated rows")
        keep = np.arange(len(x_train))
        if len(keep) > LINEAR_FIT_ROW_CAP:
            keep = np.sort(np.random.default_rng(seed).choice(len(keep), LINEAR_FIT_ROW_CAP, replace=False))
        model.fit(x_train[keep], train_labels[keep])
        predicted, fitted_on = model.predict(x_eval), f"{len(keep):,} train rows"
    else:
        x_eval = _design_matrix(features, "features")
        if len(x_eval) != split.n:
            raise UsageError(f"features has {len(x_eval):,} rows but the evaluation has {split.n:,}")
        folds = (KFold if regression else StratifiedKFold)(CROSS_VALIDATION_FOLDS, shuffle=True, random_state=seed)
        if not regression and np.bincount(split.y_true).min() < CROSS_VALIDATION_FOLDS:
            folds = KFold(CROSS_VALIDATION_FOLDS, shuffle=True, random_state=seed)
        predicted = cross_val_predict(model, x_eval, split.y_true, cv=folds)
        fitted_on = f"{CROSS_VALIDATION_FOLDS}-fold cross-validation on the evaluated rows"
    name = "a ridge regression" if regression else "a logistic regression"
    if regression:
        return _paired(name, "linear", "mse", (split.y_pred - split.y_true) ** 2,
                       (predicted - split.y_true) ** 2, split, rng, False, fitted_on=fitted_on)
    return _paired(name, "linear", "accuracy", (split.y_pred == split.y_true).astype(float),
                   (np.asarray(predicted) == split.y_true).astype(float), split, rng, True, fitted_on=fitted_on)
