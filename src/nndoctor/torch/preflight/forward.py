"""Forward the real batch once: does the model consume the data and give a valid output,
and what does the loss look like before any training (003 §4.5.2 #1–#3)?

Produces `output_check`, `loss_calls` and `initial_loss`. The model's own errors, a
non-scalar loss and the like are the user's usage errors and propagate as UsageError.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from nndoctor.core.rule import Measurements
from nndoctor.torch.expectations import initial_loss_record, loss_floor
from nndoctor.torch.loss_calls import LossCall, LossCallRecorder
from nndoctor.torch.preflight.structures import (
    call_model, iter_tensors, primary_output, rows_identical, rows_per_sample,
)
from nndoctor.torch.preflight.validation import check_loss_value, user_call_error
from nndoctor.torch.preflight.workbench import ExperimentUnavailable, Workbench


def record_loss(bench: Workbench, model: torch.nn.Module, inputs: Any, targets: Any) -> tuple[Any, torch.Tensor, list[LossCall]]:
    """One forward and loss under the loss-call recorder; user errors become UsageErrors."""
    with LossCallRecorder(step=0) as recorder:
        try:
            outputs = call_model(model, inputs)
        except Exception as error:  # noqa: BLE001 — reported to the user in one line
            raise user_call_error("model(inputs) on the batch", error) from None
        try:
            loss = bench.loss_fn(outputs, targets)
        except Exception as error:  # noqa: BLE001
            raise user_call_error("loss_fn(outputs, targets) on the batch", error) from None
    return outputs, check_loss_value(loss), recorder.calls


def call_value(call: LossCall) -> float:
    """The value of one loss call; an unreduced call is averaged as the user must have done."""
    output = call.output
    if not isinstance(output, torch.Tensor) or output.numel() == 0:
        return float("nan")
    return float(output.detach().float().mean())


def batch_floor(calls: list[LossCall], inputs: Any, n_samples: int) -> float:
    """The lowest reachable total loss on this batch: the sum of each loss call's floor."""
    groups = [g for g in rows_identical(inputs, n_samples) if len(g) > 1]
    return sum(
        loss_floor(call.kind, call.prediction.detach(), call.target, call.options,
                   _row_groups(groups, call.target, n_samples))
        for call in calls if isinstance(call.prediction, torch.Tensor)
    )


def _row_groups(groups: list[list[int]], target: Any, n_samples: int) -> list[list[int]]:
    """Groups of identical samples as groups of target rows: with a flattened sequence
    target (N·T rows) position t of identical samples i and j are rows i·T+t and j·T+t."""
    rows = rows_per_sample(target, n_samples) if isinstance(target, torch.Tensor) else None
    if not groups or rows in (None, 1):
        return groups
    return [[i * rows + t for i in group] for group in groups for t in range(rows)]


def loss_view(output: torch.Tensor | None, calls: list[LossCall], n_samples: int) -> torch.Tensor | None:
    """The model's output as the loss sees it, when the output's dim 0 is not the samples
    but the loss gets a reshape of it that has them (`out.view(-1, C)` of a (1, N, C)
    output): the prediction of the first loss call with as many elements, else None."""
    if output is None or (output.dim() >= 1 and output.shape[0] == n_samples):
        return None
    for call in calls:
        prediction = call.prediction
        if (isinstance(prediction, torch.Tensor) and prediction.dim() >= 1
                and prediction.numel() == output.numel() and rows_per_sample(prediction, n_samples)):
            return prediction
    return None


def _spread(output: torch.Tensor) -> tuple[float, float]:
    """Largest difference between samples of any output element, and the output's scale."""
    values = output.detach().float().reshape(output.shape[0], -1)
    finite = values[:, torch.isfinite(values).all(0)]
    if finite.numel() == 0:
        return 0.0, 0.0
    return float((finite.max(0).values - finite.min(0).values).max()), float(finite.abs().mean())


def output_spread(output: torch.Tensor | None, n_samples: int) -> float | None:
    if output is None or output.dim() == 0 or output.shape[0] != n_samples or n_samples < 2:
        return None
    spread, scale = _spread(output)
    return spread / max(scale, 1e-12)


def as_loss_sees(output: torch.Tensor | None, bench: Workbench) -> torch.Tensor | None:
    """An output of the same model on any slice, reshaped the way the loss received it on
    the real batch (see loss_view); unchanged when the loss took it as it is."""
    shape = bench.results.get("loss_view_shape")
    if output is None or shape is None or output.numel() % max(math.prod(shape[1:]), 1):
        return output
    return output.reshape(-1, *shape[1:])


def _batch_dim_ok(output: torch.Tensor, inputs: Any, n_samples: int) -> bool:
    if output.dim() == 0:
        return False
    leading = int(output.shape[0])
    if leading == n_samples:
        return True
    # Sequence models often return (N·T, C): accept a leading dim of N times an input dim.
    lengths = {int(size) for t in iter_tensors(inputs) if t.dim() >= 2 for size in t.shape[1:]}
    return any(leading == n_samples * length for length in lengths)


def run(bench: Workbench, m: Measurements) -> None:
    batch = bench.batch
    # On a copy, so that a train-mode forward (BatchNorm running statistics, counters in
    # the model) does not alter the model the later copies are taken from.
    try:
        model = bench.fresh_model()
    except ExperimentUnavailable:
        model = bench.model  # the snapshot restores it at the end
    with torch.enable_grad():
        outputs, loss, calls = record_loss(bench, model, batch.inputs, batch.targets)
    output = primary_output(outputs)
    # Judge the output as the loss sees it: a (1, N, C) output the loss gets as
    # `.view(-1, C)` pairs predictions with samples correctly.
    seen_by_loss = loss_view(output, calls, batch.n_samples)
    if seen_by_loss is not None:
        bench.results["loss_view_shape"] = list(seen_by_loss.shape)
    judged = seen_by_loss if seen_by_loss is not None else output
    non_finite = sum(int((~torch.isfinite(t)).sum()) for t in iter_tensors(outputs) if t.is_floating_point())
    inputs_vary = len(rows_identical(batch.inputs, batch.n_samples)) > 1
    m["output_check"] = {
        "batch_size": batch.n_samples,
        "output_type": type(outputs).__name__,
        "output_shape": list(output.shape) if output is not None else None,
        "loss_view_shape": list(seen_by_loss.shape) if seen_by_loss is not None else None,
        "batch_dim_ok": _batch_dim_ok(judged, batch.inputs, batch.n_samples) if output is not None else None,
        "non_finite_count": non_finite,
        "output_numel": sum(t.numel() for t in iter_tensors(outputs)),
        "loss_value": float(loss.detach()),
        "relative_spread": output_spread(judged, batch.n_samples) if inputs_vary else None,
        "relative_spread_after_training": None,  # filled by the overfit experiment
        "inputs_vary": inputs_vary,
    }
    m["loss_calls"] = [call.record for call in calls]
    bench.results["loss_requires_grad"] = loss.requires_grad
    bench.results["initial_loss_value"] = float(loss.detach())
    bench.results["floor"] = batch_floor(calls, batch.inputs, batch.n_samples)
    bench.results["known_loss"] = bool(calls)
    if calls and math.isfinite(call_value(calls[0])):
        first = calls[0]
        m["initial_loss"] = initial_loss_record(
            first.kind, call_value(first), first.prediction, first.target, 0, first.options
        )
    elif not calls:
        m.mark_unavailable(
            "initial_loss",
            "loss_fn uses no torch loss function nndoctor recognises, so its expected value is unknown",
        )
    else:
        m.mark_unavailable("initial_loss", "the initial loss is not finite (see invalid-output)")
