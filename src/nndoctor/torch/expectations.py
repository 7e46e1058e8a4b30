"""What a loss should be before training, and how low it can possibly go, for torch loss
calls: the tensors a loss function received, handed to the framework-free computation in
`nndoctor.core.loss_expectations` as numpy arrays.

`initial_loss_record` gives the analytic expectation of a loss for an untrained model
(003 §4.5.3 #8: a balanced 10-class problem starts at -ln(1/10) ≈ 2.3 per sample), with
a lower end for a model whose output bias already matches the class prior
(imbalance-aware). `loss_floor` gives the lowest loss reachable on a batch, which is not
0 with label smoothing, soft targets or identical inputs carrying different targets; the
overfit experiment judges progress relative to it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from nndoctor.core import loss_expectations as shared


def _array(value: Any) -> np.ndarray | None:
    """A tensor as a host array (floating point as float32: numpy has no bfloat16); None
    for anything else, which carries no expectation."""
    if not isinstance(value, torch.Tensor):
        return None
    value = value.detach()
    return (value.float() if value.is_floating_point() else value).cpu().numpy()


def _options(options: dict[str, Any] | None) -> dict[str, Any]:
    """The loss call's keyword arguments with tensors (weight, pos_weight) as arrays."""
    return {name: _array(value) if isinstance(value, torch.Tensor) else value
            for name, value in (options or {}).items()}


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

    `outputs`/`targets` are the tensors the loss function received (of the outputs only
    the shape is read: a large prediction is never copied); `options` its keyword
    arguments (reduction, ignore_index, pos_weight, weight, beta, delta)."""
    prediction = outputs if isinstance(outputs, torch.Tensor) else None
    return shared.initial_loss_record(kind, loss_value, prediction, _array(targets), step, _options(options))


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
    return shared.loss_floor(kind, prediction, _array(target), _options(options), duplicate_groups)
