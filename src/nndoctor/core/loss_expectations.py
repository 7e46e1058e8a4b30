"""What a loss should be before training, and how low it can go — in numpy, for every
framework adapter (the JAX adapter calls it directly; `nndoctor.torch.expectations` hands
it the tensors as arrays).

`initial_loss_record` gives the analytic expectation of a loss for an untrained model
(003 §4.5.3 #8: a balanced 10-class problem starts at ln 10 ≈ 2.3 per sample) with a lower
end for a model whose output bias already matches the label prior; `loss_floor` the lowest
loss reachable on a batch (not 0 with label smoothing, soft targets, or identical inputs
with different targets).

Arrays follow the torch layout the rules were written for: class scores on axis 1
(axis 0 for a single sample). Adapters whose losses put classes last (optax) move the
axis before calling. Of the prediction only the shape is read, so an adapter may pass its
own array type (a large output is never copied). `options` may carry `scale` (a constant
factor of the loss, e.g. 0.5 for optax.l2_loss), `reduction` ("sum"), `label_smoothing`,
`ignore_index`, `delta`/`beta`, and for binary losses `weight` and `pos_weight` (arrays).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

CLASS_KINDS = {"cross_entropy", "nll"}
BINARY_KINDS = {"bce", "bce_with_logits", "soft_margin", "multilabel_soft_margin"}
REGRESSION_KINDS = {"mse", "l1", "smooth_l1", "huber"}
LN2 = math.log(2.0)


def entropy(probabilities: np.ndarray, axis: int) -> np.ndarray:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0, None)
    logs = np.log(np.where(p > 0, p, 1.0))
    return -(p * logs).sum(axis)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    return entropy(np.stack([p, 1 - p]), 0)


def class_axis(shape: tuple[int, ...]) -> int:
    return 1 if len(shape) >= 2 else 0


def _shape(prediction: Any) -> tuple[int, ...]:
    return tuple(int(size) for size in np.shape(prediction))


def _scale(options: dict[str, Any], elements: int) -> tuple[float, str]:
    factor = float(options.get("scale", 1.0))
    note = f" × {factor:g}" if factor != 1.0 else ""
    if options.get("reduction") == "sum":
        return factor * elements, note + f" × {elements} elements (reduction='sum')"
    return factor, note


def regression_loss(kind: str, prediction: np.ndarray, target: np.ndarray, options: dict[str, Any]) -> float:
    """Mean elementwise regression loss, as torch's F.*_loss and optax define them."""
    error = np.asarray(prediction, np.float64) - np.asarray(target, np.float64)
    if kind == "mse":
        return float(np.mean(error ** 2))
    if kind == "l1":
        return float(np.mean(np.abs(error)))
    size = abs(error)
    if kind == "smooth_l1":
        beta = float(options.get("beta", 1.0))
        if beta == 0:
            return float(np.mean(size))
        return float(np.mean(np.where(size < beta, 0.5 * error ** 2 / beta, size - 0.5 * beta)))
    delta = float(options.get("delta", 1.0))
    return float(np.mean(np.where(size <= delta, 0.5 * error ** 2, delta * (size - 0.5 * delta))))


def _class_expectation(shape: tuple[int, ...], target: Any, options: dict[str, Any]) -> dict[str, Any]:
    axis = class_axis(shape)
    n_classes = int(shape[axis])
    record: dict[str, Any] = {"n_classes": n_classes}
    if target is None:
        return record
    target = np.asarray(target)
    if np.issubdtype(target.dtype, np.floating) and target.shape == shape:
        prior = np.moveaxis(target.astype(np.float64), axis, -1).reshape(-1, n_classes).mean(0)
        elements = target.size // n_classes
    else:
        labels = target.reshape(-1).astype(np.int64)
        labels = labels[labels != options.get("ignore_index", -100)]
        labels = labels[(labels >= 0) & (labels < n_classes)]
        elements = int(labels.size)
        if elements == 0:
            return record
        prior = np.bincount(labels, minlength=n_classes) / elements
    scale, note = _scale(options, elements)
    prior_entropy = float(entropy(prior, 0))
    record.update(
        expected=math.log(n_classes) * scale,
        expected_low=prior_entropy * scale,
        prior_entropy=prior_entropy,
        expected_basis=(
            f"ln({n_classes}) = {math.log(n_classes):.3g} for {n_classes} classes{note}; "
            f"{prior_entropy:.3g} (the label entropy) if the output bias matches the class frequencies"
        ),
    )
    return record


def _binary_expectation(kind: str, target: Any, options: dict[str, Any]) -> dict[str, Any]:
    if target is None or not np.issubdtype(np.asarray(target).dtype, np.floating):
        return {}
    positive = np.asarray(target, np.float64)
    if kind == "soft_margin":
        positive = (positive + 1) / 2  # soft-margin targets are ±1
    # Each output starts at ln 2; pos_weight w counts positives w times, weight scales each.
    per_output = np.full_like(positive, LN2)
    pos_weight = options.get("pos_weight")
    if pos_weight is not None and kind == "bce_with_logits":
        per_output = LN2 * (np.asarray(pos_weight, np.float64) * positive + (1 - positive))
    if options.get("weight") is not None:
        per_output = per_output * np.asarray(options["weight"], np.float64)
    expected = float(per_output.mean())
    columns = positive.reshape(positive.shape[0], -1) if positive.ndim > 1 else positive.reshape(-1, 1)
    prior_entropy = float(binary_entropy(np.clip(columns.mean(0), 0, 1)).mean())
    scale, note = _scale(options, positive.size)
    # output-bias-imbalance needs it: with pos_weight w the best constant logit is log(w·pos/neg).
    weights = np.asarray(pos_weight, np.float64).reshape(-1).tolist() if pos_weight is not None else None
    return {
        "pos_weight": weights if kind == "bce_with_logits" else None,
        "expected": expected * scale,
        "expected_low": min(prior_entropy, expected) * scale,
        "prior_entropy": prior_entropy,
        "positive_rate": float(columns.mean()),
        "expected_basis": (
            f"ln(2) = {LN2:.3g} per output for predictions of 0.5{note}; {prior_entropy:.3g} (the label "
            "entropy) if the output bias matches the positive rate"
        ),
    }


def _regression_expectation(kind: str, shape: tuple[int, ...], target: Any, options: dict[str, Any]) -> dict[str, Any]:
    if target is None or not np.issubdtype(np.asarray(target).dtype, np.floating):
        return {}
    y = np.asarray(target, np.float64)
    try:
        y = np.broadcast_to(y, np.broadcast_shapes(shape, y.shape))
    except ValueError:
        return {}
    # An untrained regressor predicts ≈ 0; one whose output bias was set to the target mean
    # (or median, for L1) starts at the target's spread — the "target variance" of MSE.
    centre = float(np.median(y)) if kind == "l1" else float(y.mean())
    at_zero = regression_loss(kind, np.zeros_like(y), y, options)
    at_centre = regression_loss(kind, np.full_like(y, centre), y, options)
    scale, note = _scale(options, y.size)
    spread = "variance" if kind == "mse" else "spread"
    return {
        "expected": at_zero * scale,
        "expected_low": min(at_centre, at_zero) * scale,
        "target_mean": float(y.mean()),
        "target_std": float(y.std(ddof=1)) if y.size > 1 else 0.0,
        "expected_basis": (
            f"{at_zero * scale:.3g} for predictions ≈ 0{note}; {at_centre * scale:.3g} (the target {spread}) if the "
            "output bias is set to the target mean"
        ),
    }


def initial_loss_record(kind: str | None, loss_value: float, prediction: Any, target: Any,
                        step: int | None, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `initial_loss` measurement (see nndoctor.core.measurements.InitialLoss)."""
    options = options or {}
    record: dict[str, Any] = {
        "loss": kind, "value": float(loss_value), "expected": None, "expected_low": None,
        "expected_basis": "no analytic expectation for this loss", "n_classes": None, "step": step,
    }
    shape = _shape(prediction) if prediction is not None else (0,)
    if math.prod(shape) == 0:
        return record
    if kind in CLASS_KINDS:
        record.update(_class_expectation(shape, target, options))
    elif kind in BINARY_KINDS:
        record.update(_binary_expectation(kind, target, options))
    elif kind in REGRESSION_KINDS:
        record.update(_regression_expectation(kind, shape, target, options))
    return record


def loss_floor(kind: str | None, prediction: Any, target: Any, options: dict[str, Any] | None = None,
               duplicate_groups: list[list[int]] | None = None) -> float:
    """The lowest value this loss can reach on this batch (0 when nothing prevents it)."""
    options = options or {}
    if target is None or prediction is None:
        return 0.0
    shape, target = _shape(prediction), np.asarray(target)
    floor = _smoothing_floor(kind, shape, target, options)
    n_samples = target.shape[0] if target.ndim else 0
    groups = [g for g in (duplicate_groups or []) if len(g) > 1]
    if groups and n_samples and max(max(g) for g in groups) < n_samples:
        floor = max(floor, _duplicate_floor(kind, target, groups, n_samples))
    elements = target.size if kind not in CLASS_KINDS else target.size // (
        shape[class_axis(shape)] if target.shape == shape else 1)
    scale, _ = _scale(options, elements)
    return floor * scale


def _smoothing_floor(kind: str | None, shape: tuple[int, ...], target: np.ndarray, options: dict[str, Any]) -> float:
    floating = np.issubdtype(target.dtype, np.floating)
    if kind in CLASS_KINDS and len(shape) >= 1:
        n_classes = int(shape[class_axis(shape)])
        if floating and target.shape == shape:
            return float(entropy(target, class_axis(shape)).mean())
        smoothing = float(options.get("label_smoothing", 0.0) or 0.0)
        if smoothing > 0 and n_classes > 1:
            high = 1 - smoothing + smoothing / n_classes
            low = smoothing / n_classes
            return -(high * math.log(high) + (n_classes - 1) * low * math.log(low))
    if kind in ("bce", "bce_with_logits") and floating:
        return float(binary_entropy(np.clip(target.astype(np.float64), 0, 1)).mean())
    return 0.0


def _duplicate_floor(kind: str | None, target: np.ndarray, groups: list[list[int]], n_samples: int) -> float:
    flat = target.reshape(n_samples, -1)
    rows = [flat[group].astype(np.float64) if kind not in CLASS_KINDS else flat[group] for group in groups]
    total = 0.0
    if kind in CLASS_KINDS and not np.issubdtype(target.dtype, np.floating):
        for block in rows:  # block: (group size, positions) of class ids
            for column in block.T:
                counts = np.unique(column, return_counts=True)[1].astype(np.float64)
                total += float(entropy(counts / counts.sum(), 0)) * len(column)
        return total / (n_samples * flat.shape[1])
    if kind in ("bce", "bce_with_logits"):
        total = sum(float(binary_entropy(np.clip(block.mean(0), 0, 1)).sum()) * block.shape[0] for block in rows)
    elif kind == "mse":
        total = sum(float(((block - block.mean(0)) ** 2).sum()) for block in rows)
    elif kind == "l1":
        total = sum(float(np.abs(block - np.median(block, 0)).sum()) for block in rows)
    return total / max(target.size, 1)
