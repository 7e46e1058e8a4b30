"""Turn what the user has (numpy, pandas, lists, tensors) into an `EvalSplit`.

The task is inferred from shapes and dtypes unless given: a 2-D 0/1 target is
multi-label, a float target with non-integer values (or many distinct integers) is
regression, everything else is classification. Class labels are coded 0..K-1 in sorted
order, which is also the column order expected of `probabilities` (as in scikit-learn).
Inputs that cannot be judged raise a UsageError with one line saying what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nndoctor.core.errors import UsageError

TASK_ALIASES = {"binary": "classification", "multiclass": "classification", "multi-class": "classification",
                "multi-label": "multilabel", "classification": "classification", "multilabel": "multilabel",
                "regression": "regression"}
# An integer target with more distinct values than this is treated as a regression target.
MAX_CLASSES_FOR_INTEGER_TARGETS = 50
PROBABILITY_CLIP = 1e-15  # keeps -log(p) finite for a probability of exactly 0


@dataclass
class EvalSplit:
    """One evaluated split, row-aligned. Classification targets are codes 0..K-1 into
    `classes`; multi-label targets and predictions are n x L 0/1 arrays over `classes`."""

    name: str
    task: str
    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any]
    sample_ids: np.ndarray
    losses: np.ndarray | None
    slices: Any = None  # pandas DataFrame of metadata columns, or None
    groups: np.ndarray | None = None  # integer codes of the independent units (patients…)

    @property
    def n(self) -> int:
        return len(self.y_true)

    @property
    def n_classes(self) -> int:
        return len(self.classes)


def as_array(value: Any, name: str) -> np.ndarray:
    """numpy array from a list, Series, DataFrame or tensor (without importing torch)."""
    if value is None:
        raise UsageError(f"{name} is required")
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):
        value = value.to_numpy()
    array = np.asarray(value)
    if array.ndim == 0:
        raise UsageError(f"{name} must be an array of per-sample values, got a scalar")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim > 2:
        raise UsageError(f"{name} must be 1-D (or n x classes), got shape {array.shape}")
    return array


def _is_integer_valued(values: np.ndarray) -> bool:
    if values.dtype.kind in "iub":
        return True
    if values.dtype.kind != "f":
        return False
    finite = values[np.isfinite(values)]
    return bool(np.all(finite == np.round(finite)))


def infer_task(y_true: np.ndarray, predictions: np.ndarray, task: str | None) -> str:
    if task is not None:
        if task not in TASK_ALIASES:
            raise UsageError(f"task must be one of {', '.join(sorted(TASK_ALIASES))}, got {task!r}")
        return TASK_ALIASES[task]
    if y_true.ndim == 2:
        return "multilabel"
    if y_true.dtype.kind in "OUSb":
        return "classification"
    if not _is_integer_valued(y_true):
        return "regression"
    if predictions.ndim == 1 and predictions.dtype.kind == "f" and not _is_integer_valued(predictions):
        return "regression"  # integer targets (counts) with continuous predictions
    if predictions.ndim == 2:
        return "classification"
    return "classification" if len(np.unique(y_true)) <= MAX_CLASSES_FOR_INTEGER_TARGETS else "regression"


def to_probabilities(scores: np.ndarray, multilabel: bool) -> np.ndarray:
    """Scores as probabilities: kept when they already are, else softmax (or sigmoid for
    multi-label) of logits."""
    scores = scores.astype(float)
    if not np.all(np.isfinite(scores)):
        raise UsageError("probabilities/scores contain NaN or infinite values; fix the model outputs first")
    in_unit = scores.min() >= 0 and scores.max() <= 1
    if multilabel:
        return scores if in_unit else 1 / (1 + np.exp(-scores))
    if in_unit and np.allclose(scores.sum(axis=1), 1, atol=1e-3):
        return scores / scores.sum(axis=1, keepdims=True)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _label_key(value: Any) -> Any:
    """1 and 1.0 are the same class; numpy scalars become Python ones."""
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def class_codes(y_true: np.ndarray, y_pred: np.ndarray | None, n_columns: int | None,
                 classes: Any) -> tuple[np.ndarray, np.ndarray | None, list[Any]]:
    true_keys = [_label_key(v) for v in y_true]
    pred_keys = None if y_pred is None else [_label_key(v) for v in y_pred]
    if classes is None:
        seen = set(true_keys) | set(pred_keys or [])
        try:
            classes = sorted(seen)
        except TypeError:
            classes = sorted(seen, key=str)
        if n_columns is not None and len(classes) != n_columns:
            if all(isinstance(c, int) and 0 <= c < n_columns for c in classes):
                classes = list(range(n_columns))  # integer codes, some classes absent here
            else:
                raise UsageError(
                    f"probabilities have {n_columns} columns but the labels have {len(classes)} distinct "
                    "values; pass classes=[...] in the column order of the probabilities")
    classes = [_label_key(c) for c in classes]
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(k) for k in true_keys + (pred_keys or []) if k not in index})
    if unknown:
        raise UsageError(f"labels {', '.join(unknown[:5])} are not among classes {classes[:10]}")
    true_codes = np.array([index[k] for k in true_keys], dtype=np.int64)
    pred_codes = None if pred_keys is None else np.array([index[k] for k in pred_keys], dtype=np.int64)
    return true_codes, pred_codes, classes


def prepare_split(name: str, y_true: Any, predictions: Any, *, task: str | None = None,
                  probabilities: Any = None, classes: Any = None, sample_ids: Any = None,
                  losses: Any = None, slices: Any = None, groups: Any = None) -> EvalSplit:
    """Validate and code one split. See `nndoctor.evaluate` for the meaning of each input."""
    y_true = as_array(y_true, "y_true")
    predictions = as_array(predictions, "predictions")
    n = len(y_true)
    if n == 0:
        raise UsageError(f"{name}: y_true is empty; there is nothing to evaluate")
    _same_length(name, n, predictions, "predictions")
    task = infer_task(y_true, predictions, task)
    probs = None if probabilities is None else as_array(probabilities, "probabilities")
    if probs is not None:
        _same_length(name, n, probs, "probabilities")
    if task == "regression":
        y_true_f, y_pred_f = _floats(y_true, "y_true"), _floats(predictions, "predictions")
        if y_pred_f.ndim != 1:
            raise UsageError(f"{name}: regression predictions must be 1-D, got shape {predictions.shape}")
        y_true_c, y_pred_c, probs, class_list = y_true_f, y_pred_f, None, []
    elif task == "multilabel":
        y_true_c, y_pred_c, probs, class_list = _multilabel(name, y_true, predictions, probs, classes)
    else:
        if predictions.ndim == 2 and probs is None:
            probs = predictions
            predictions = None
        if probs is not None:
            if probs.ndim == 1:  # binary: probability (or logit) of the positive class
                probs = probs.astype(float)
                if probs.min() < 0 or probs.max() > 1:
                    probs = 1 / (1 + np.exp(-probs))
                probs = np.column_stack([1 - probs, probs])
            probs = to_probabilities(probs, multilabel=False)
        y_true_c, pred_c, class_list = class_codes(
            y_true, predictions, None if probs is None else probs.shape[1], classes)
        y_pred_c = pred_c if pred_c is not None else probs.argmax(axis=1)
        if len(class_list) < 2:
            raise UsageError(f"{name}: only one class ({class_list[0]!r}) in y_true and predictions; "
                             "classification needs at least two")
    ids = np.arange(n) if sample_ids is None else as_array(sample_ids, "sample_ids")
    _same_length(name, n, ids, "sample_ids")
    # an infinite loss is a real measurement (probability 0 for the true class); NaN is not
    loss_values = None if losses is None else _floats(as_array(losses, "losses"), "losses", allow_infinite=True)
    if loss_values is not None:
        _same_length(name, n, loss_values, "losses")
    split = EvalSplit(name=name, task=task, y_true=y_true_c, y_pred=y_pred_c, probabilities=probs,
                      classes=class_list, sample_ids=ids, losses=loss_values,
                      slices=_slices(name, slices, n), groups=_groups(name, groups, n))
    if split.losses is None:
        split.losses = default_losses(split)
    return split


def cross_entropy(split: EvalSplit) -> np.ndarray:
    """Per-row cross-entropy of a single-label classifier's probabilities (clipped, finite)."""
    p = np.clip(split.probabilities[np.arange(split.n), split.y_true], PROBABILITY_CLIP, 1.0)
    return -np.log(p)


def default_losses(split: EvalSplit) -> np.ndarray | None:
    """Per-sample loss when none was given: cross-entropy from the probabilities, binary
    cross-entropy averaged over labels, squared error for regression."""
    if split.task == "regression":
        return (split.y_pred - split.y_true) ** 2
    if split.probabilities is None:
        return None
    p = np.clip(split.probabilities, PROBABILITY_CLIP, 1 - PROBABILITY_CLIP)
    if split.task == "multilabel":
        return -(split.y_true * np.log(p) + (1 - split.y_true) * np.log(1 - p)).mean(axis=1)
    return cross_entropy(split)


def _multilabel(name: str, y_true: np.ndarray, predictions: np.ndarray, probs: np.ndarray | None,
                classes: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[Any]]:
    if y_true.ndim != 2:
        raise UsageError(f"{name}: multi-label y_true must be n x labels (0/1), got shape {y_true.shape}")
    values = np.unique(y_true)
    if not set(values.tolist()) <= {0, 1}:
        raise UsageError(f"{name}: multi-label y_true must hold only 0 and 1, got {values[:5].tolist()}")
    if predictions.shape != y_true.shape:
        raise UsageError(f"{name}: multi-label predictions must have y_true's shape {y_true.shape}, "
                         f"got {predictions.shape}")
    hard_given = set(np.unique(predictions).tolist()) <= {0, 1}
    if hard_given:
        hard = predictions.astype(np.int64)
        probs = None if probs is None else to_probabilities(probs, multilabel=True)
    else:  # scores given as predictions: probabilities thresholded at 0.5
        probs = to_probabilities(predictions if probs is None else probs, multilabel=True)
        hard = (probs >= 0.5).astype(np.int64)
    labels = list(classes) if classes is not None else list(range(y_true.shape[1]))
    if len(labels) != y_true.shape[1]:
        raise UsageError(f"{name}: classes has {len(labels)} names for {y_true.shape[1]} label columns")
    return y_true.astype(np.int64), hard, probs, labels


def _floats(values: np.ndarray, name: str, allow_infinite: bool = False) -> np.ndarray:
    try:
        floats = values.astype(float)
    except (TypeError, ValueError):
        raise UsageError(f"{name} must be numeric for this task, got {values.dtype}") from None
    bad = np.isnan(floats) if allow_infinite else ~np.isfinite(floats)
    if bad.any():
        raise UsageError(f"{name} has {int(bad.sum()):,} NaN{'' if allow_infinite else ' or infinite'} values; "
                         "drop or fix those rows first")
    return floats


def _same_length(name: str, n: int, values: Any, what: str) -> None:
    if len(values) != n:
        raise UsageError(f"{name}: {what} has {len(values):,} rows but y_true has {n:,}")


def _slices(name: str, slices: Any, n: int) -> Any:
    if slices is None:
        return None
    import pandas as pd

    if isinstance(slices, pd.Series):
        slices = slices.to_frame()
    frame = slices if isinstance(slices, pd.DataFrame) else pd.DataFrame(slices)
    if len(frame) != n:
        raise UsageError(f"{name}: slices has {len(frame):,} rows but y_true has {n:,}")
    return frame.reset_index(drop=True)


def _groups(name: str, groups: Any, n: int) -> np.ndarray | None:
    if groups is None:
        return None
    import pandas as pd

    values = as_array(groups, "groups")
    _same_length(name, n, values, "groups")
    codes, _ = pd.factorize(pd.Series(values), use_na_sentinel=False)
    return codes.astype(np.int64)
