"""What a loss should be before training, and how low it can possibly go.

`initial_loss_record` gives the analytic expectation of a loss for an untrained model
(003 §4.5.3 #8: a balanced 10-class problem starts at -ln(1/10) ≈ 2.3 per sample), with
a lower end for a model whose output bias already matches the class prior
(imbalance-aware). `loss_floor` gives the lowest loss reachable on a batch, which is not
0 with label smoothing, soft targets or identical inputs carrying different targets; the
overfit experiment judges progress relative to it.
"""
from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

CLASS_KINDS = {"cross_entropy", "nll"}
BINARY_KINDS = {"bce", "bce_with_logits", "soft_margin", "multilabel_soft_margin"}
REGRESSION_KINDS = {"mse", "l1", "smooth_l1", "huber"}
LN2 = math.log(2.0)


def _entropy(probabilities: torch.Tensor, dim: int) -> torch.Tensor:
    p = probabilities.clamp_min(0)
    return -(torch.where(p > 0, p * p.clamp_min(1e-30).log(), torch.zeros_like(p))).sum(dim)


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    return _entropy(torch.stack([p, 1 - p]), 0)


def _class_dim(prediction: torch.Tensor) -> int:
    return 1 if prediction.dim() >= 2 else 0


def _reduction_scale(options: dict[str, Any], elements: int) -> tuple[float, str]:
    if options.get("reduction") == "sum":
        return float(elements), f" × {elements} elements (reduction='sum')"
    return 1.0, ""


def _class_expectation(prediction: torch.Tensor, target: Any, options: dict[str, Any]) -> dict[str, Any]:
    n_classes = int(prediction.shape[_class_dim(prediction)])
    record: dict[str, Any] = {"n_classes": n_classes}
    if not isinstance(target, torch.Tensor):
        return record
    if target.is_floating_point() and target.shape == prediction.shape:
        prior = target.float().movedim(_class_dim(prediction), -1).reshape(-1, n_classes).mean(0)
        elements = target.numel() // n_classes
    else:
        labels = target.reshape(-1).long()
        labels = labels[labels != options.get("ignore_index", -100)]
        labels = labels[(labels >= 0) & (labels < n_classes)]
        elements = int(labels.numel())
        if elements == 0:
            return record
        prior = torch.bincount(labels.cpu(), minlength=n_classes).float() / elements
    scale, note = _reduction_scale(options, elements)
    prior_entropy = float(_entropy(prior.cpu(), 0))
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


def _binary_expectation(kind: str, prediction: torch.Tensor, target: Any, options: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(target, torch.Tensor) or not target.is_floating_point():
        return {}
    positive = target.float()
    if kind in ("soft_margin",):
        positive = (positive + 1) / 2  # soft-margin targets are ±1
    per_element = torch.full_like(positive, LN2)
    pos_weight = options.get("pos_weight")
    if isinstance(pos_weight, torch.Tensor) and kind == "bce_with_logits":
        per_element = LN2 * (pos_weight.to(positive) * positive + (1 - positive))
    weight = options.get("weight")
    if isinstance(weight, torch.Tensor):
        per_element = per_element * weight.to(positive)
    columns = positive.reshape(positive.shape[0], -1) if positive.dim() > 1 else positive.reshape(-1, 1)
    prior_entropy = float(_binary_entropy(columns.mean(0).clamp(0, 1)).mean())
    scale, note = _reduction_scale(options, positive.numel())
    expected = float(per_element.mean())
    # output-bias-imbalance needs it: with pos_weight w the best constant logit is log(w·pos/neg).
    weights = pos_weight.detach().float().reshape(-1).tolist() if isinstance(pos_weight, torch.Tensor) else None
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


def _regression_expectation(kind: str, prediction: torch.Tensor, target: Any, options: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(target, torch.Tensor) or not target.is_floating_point():
        return {}
    y = target.detach().float()
    try:
        shape = torch.broadcast_shapes(prediction.shape, y.shape)
    except RuntimeError:
        return {}
    y = y.expand(shape)
    extra = {"beta": options["beta"]} if kind == "smooth_l1" and "beta" in options else {}
    if kind == "huber" and "delta" in options:
        extra = {"delta": options["delta"]}
    function = {"mse": F.mse_loss, "l1": F.l1_loss, "smooth_l1": F.smooth_l1_loss, "huber": F.huber_loss}[kind]
    # While a script is watched, F's losses are wrapped; computing the expectation must not
    # look like one of the user's (validation) loss calls.
    function = getattr(function, "__wrapped__", function)
    # An untrained regressor predicts ≈ 0; one whose output bias was set to the target mean
    # (or median, for L1) starts at the target's spread — the "target variance" of MSE.
    centre = y.median() if kind == "l1" else y.mean()
    at_zero = float(function(torch.zeros_like(y), y, **extra))
    at_centre = float(function(torch.full_like(y, float(centre)), y, **extra))
    scale, note = _reduction_scale(options, y.numel())
    spread = "variance" if kind == "mse" else "spread"
    return {
        "expected": at_zero * scale,
        "expected_low": min(at_centre, at_zero) * scale,
        "target_mean": float(y.mean()),
        "target_std": float(y.std()) if y.numel() > 1 else 0.0,
        "expected_basis": (
            f"{at_zero:.3g} for predictions ≈ 0{note}; {at_centre:.3g} (the target {spread}) if the "
            "output bias is set to the target mean"
        ),
    }


def initial_loss_record(
    kind: str | None,
    loss_value: float,
    outputs: Any,
    targets: Any,
    step: int | None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The `initial_loss` measurement: the value, what an untrained model should give
    (`expected`, with `expected_low` for a prior-matched output bias) and why.

    `outputs`/`targets` are the tensors the loss function received; `options` its keyword
    arguments (reduction, ignore_index, pos_weight, weight, beta, delta)."""
    options = options or {}
    record: dict[str, Any] = {
        "loss": kind, "value": float(loss_value), "expected": None, "expected_low": None,
        "expected_basis": "no analytic expectation for this loss", "n_classes": None, "step": step,
    }
    if not isinstance(outputs, torch.Tensor) or outputs.numel() == 0:
        return record
    prediction = outputs.detach()
    with torch.no_grad():
        if kind in CLASS_KINDS:
            record.update(_class_expectation(prediction, targets, options))
        elif kind in BINARY_KINDS:
            record.update(_binary_expectation(kind, prediction, targets, options))
        elif kind in REGRESSION_KINDS:
            record.update(_regression_expectation(kind, prediction, targets, options))
    return record


def _group_rows(target: torch.Tensor, groups: list[list[int]]) -> list[torch.Tensor]:
    n_samples = target.shape[0]
    flat = target.detach().reshape(n_samples, -1)
    return [flat[group] for group in groups if len(group) > 1]


def loss_floor(
    kind: str | None,
    prediction: torch.Tensor,
    target: Any,
    options: dict[str, Any] | None = None,
    duplicate_groups: list[list[int]] | None = None,
) -> float:
    """The lowest value this loss can reach on this batch (0 when nothing prevents it).

    Label smoothing and soft targets leave the target entropy; samples with identical
    inputs but different targets leave their conditional entropy (classification) or
    their within-group variance (MSE) / spread around the median (L1)."""
    options = options or {}
    if not isinstance(target, torch.Tensor):
        return 0.0
    with torch.no_grad():
        floor = _smoothing_floor(kind, prediction, target, options)
        n_samples = target.shape[0] if target.dim() else 0
        groups = [g for g in (duplicate_groups or []) if len(g) > 1]
        if groups and n_samples and max(max(g) for g in groups) < n_samples:
            floor = max(floor, _duplicate_floor(kind, prediction, target, groups, n_samples))
        elements = target.numel() if kind not in CLASS_KINDS else target.numel() // (
            prediction.shape[_class_dim(prediction)] if target.shape == prediction.shape else 1)
        scale, _ = _reduction_scale(options, elements)
    return floor * scale


def _smoothing_floor(kind: str | None, prediction: torch.Tensor, target: torch.Tensor, options: dict[str, Any]) -> float:
    if kind in CLASS_KINDS and prediction.dim() >= 1:
        n_classes = int(prediction.shape[_class_dim(prediction)])
        if target.is_floating_point() and target.shape == prediction.shape:
            return float(_entropy(target.float(), _class_dim(prediction)).mean())
        smoothing = float(options.get("label_smoothing", 0.0) or 0.0)
        if smoothing > 0 and n_classes > 1:
            high = 1 - smoothing + smoothing / n_classes
            low = smoothing / n_classes
            return -(high * math.log(high) + (n_classes - 1) * low * math.log(low))
    if kind in ("bce", "bce_with_logits") and target.is_floating_point():
        return float(_binary_entropy(target.float().clamp(0, 1)).mean())
    return 0.0


def _duplicate_floor(kind: str | None, prediction: torch.Tensor, target: torch.Tensor,
                     groups: list[list[int]], n_samples: int) -> float:
    rows = _group_rows(target.float() if kind not in CLASS_KINDS else target, groups)
    total = 0.0
    if kind in CLASS_KINDS and not target.is_floating_point():
        for block in rows:  # block: (group size, positions) of class ids
            for column in block.T:
                counts = torch.unique(column, return_counts=True)[1].float()
                total += float(_entropy(counts / counts.sum(), 0)) * len(column)
        positions = target.reshape(n_samples, -1).shape[1]
        return total / (n_samples * positions)
    if kind in ("bce", "bce_with_logits"):
        total = sum(float(_binary_entropy(block.mean(0).clamp(0, 1)).sum()) * block.shape[0] for block in rows)
    elif kind == "mse":
        total = sum(float(((block - block.mean(0)) ** 2).sum()) for block in rows)
    elif kind == "l1":
        total = sum(float((block - block.median(0).values).abs().sum()) for block in rows)
    return total / max(target.numel(), 1)
