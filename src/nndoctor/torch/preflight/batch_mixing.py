"""Does the output of sample i depend on the input of another sample j?

On a copy in eval mode (so BatchNorm uses its running statistics and legitimately
per-sample models are exactly per-sample), the gradient of sample i's output is taken
with respect to every input. For floating-point inputs these are the inputs themselves;
for token ids, the outputs of the embedding layers that read them. Without mixing the
gradient rows of the other samples are exactly zero, so any non-zero value is evidence —
typically a transformer or LSTM fed (N, T, …) while expecting (T, N, …), or a
reshape/view that interleaves samples.

Causal variant: when the targets are the inputs shifted by one step (next-token
prediction, forecasting), the output at position t must not depend on inputs after t; the
gradient of an early output position with respect to later input positions is measured
the same way (a missing causal mask lets the model read the answer).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from nndoctor.core.preflight_protocol import MAX_PROBES
from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.forward import as_loss_sees
from nndoctor.torch.preflight.structures import (
    call_model, iter_tensors, map_batch_tensors, per_sample_view, primary_output,
)
from nndoctor.torch.preflight.workbench import ExperimentUnavailable, Workbench



def _embedding_outputs(model: torch.nn.Module, id_inputs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[Any]]:
    """Hook embedding layers whose input is one of the model's id tensors."""
    captured: list[torch.Tensor] = []

    def hook(module: torch.nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        ids = args[0] if args else None
        if not isinstance(ids, torch.Tensor) or not any(
            ids.shape == t.shape and torch.equal(ids, t) for t in id_inputs
        ):
            return output  # positions, a shared vocabulary lookup: not per-sample data
        if not output.requires_grad:
            output = output.detach().requires_grad_()
        captured.append(output)
        return output

    handles = [mod.register_forward_hook(hook) for mod in model.modules() if isinstance(mod, torch.nn.Embedding)]
    return captured, handles


def run(bench: Workbench, m: Measurements) -> None:
    n = bench.batch.n_samples
    time_major, next_step, columns = _layout(bench)
    model = bench.fresh_model()
    model.eval()
    float_inputs: list[torch.Tensor] = []

    def leaf(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.is_floating_point():
            clone = tensor.detach().clone().requires_grad_()
            float_inputs.append(clone)
            return clone
        return tensor

    inputs = map_batch_tensors(bench.batch.inputs, n, leaf)
    id_inputs = [t for t in iter_tensors(inputs) if not t.is_floating_point() and t.dtype != torch.bool
                 and t.dim() >= 1 and t.shape[0] == n]
    captured, handles = _embedding_outputs(model, id_inputs)
    try:
        with torch.enable_grad():
            output = as_loss_sees(primary_output(call_model(model, inputs)), bench)
    finally:
        for handle in handles:
            handle.remove()
    probes = float_inputs + captured
    # Sample i's output: row i, or rows i·T … i·T+T−1 of an output the model (or the
    # loss's reshape) flattened to (N·T, …).
    output = per_sample_view(output, n) if output is not None and output.dim() >= 1 else None
    if output is None:
        raise ExperimentUnavailable("the model output has no leading batch dimension of N (or N·T) rows")
    if time_major:
        # (T, B, …) data: the samples are the columns; along dim 0 (time) mixing is the point.
        if output.dim() < 2 or output.shape[1] != columns:
            raise ExperimentUnavailable("the inputs are time-major but the output has no batch dimension on dim 1")
        output, n = output.movedim(1, 0), columns
        probes = [p for p in probes if p.dim() >= 2 and p.shape[1] == columns]
    if n < 2:
        raise ExperimentUnavailable("the batch has a single sample, so samples cannot mix")
    if not probes or not output.requires_grad:
        raise ExperimentUnavailable("no floating-point input or embedding output to take gradients against")

    def orient(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.movedim(1, 0) if time_major else tensor

    pairs = []
    worst_ratio, worst_pair = 0.0, None
    for i in sorted({0, n - 1})[:MAX_PROBES]:
        grads = torch.autograd.grad(output[i].float().sum(), probes, retain_graph=True, allow_unused=True)
        own, other, other_index = 0.0, 0.0, None
        for grad in grads:
            if grad is None:
                continue
            rows = orient(grad.detach()).reshape(n, -1).abs().float().amax(1)
            own = max(own, float(rows[i]))
            rows[i] = 0
            if float(rows.max()) > other:
                other, other_index = float(rows.max()), int(rows.argmax())
        ratio = other / own if own > 0 else (float("inf") if other > 0 else 0.0)
        pairs.append({"output_sample": i, "own_gradient": own, "largest_other_gradient": other,
                      "other_sample": other_index, "ratio": ratio})
        if ratio > worst_ratio:
            worst_ratio, worst_pair = ratio, (i, other_index)
    m["batch_mixing"] = {
        "probes": pairs,
        "worst_ratio": worst_ratio,
        "worst_pair": list(worst_pair) if worst_pair else None,
        "input_kind": "embedding" if captured and not float_inputs else "input",
        "batch_size": n,
        "layout": "time-major" if time_major else "batch-major",
        "causal": _causal_probe(output, probes, n, orient) if next_step else None,
    }


def _layout(bench: Workbench) -> tuple[bool, bool, int]:
    """(time-major, next-step targets, size of the inputs' dim 1) of the batch.

    Time-major — dim 0 is time and dim 1 the samples, what nn.LSTM and nn.Transformer
    expect without batch_first — is concluded only on evidence, since by convention dim 0
    holds the samples: targets that are the inputs shifted by one step along dim 0 and not
    along dim 1, or an RNN state (layers, batch, hidden) passed in whose batch is the
    inputs' dim 1. With next-step targets (language modelling, forecasting) output t must
    not see input t+1 or later, whatever the architecture."""
    n = bench.batch.n_samples
    inputs = [t for t in iter_tensors(bench.batch.inputs) if t.dim() >= 2 and t.shape[0] == n and t.shape[1] > 1]
    if not inputs:
        return False, False, 0
    x, columns = inputs[0], int(inputs[0].shape[1])
    # Flattened sequence targets (N·T,) are compared as the (N, T) they were.
    targets = [view for t in iter_tensors(bench.batch.targets)
               if (view := per_sample_view(t, n)) is not None and view.dim() >= 2][:1]
    along_dim1 = any(_shifted_by_one(x, y) for y in targets)
    along_dim0 = any(y.shape[:2] == x.shape[:2] and _shifted_by_one(x.movedim(0, 1), y.movedim(0, 1))
                     for y in targets)
    rnn_state = any(
        t.dim() == 3 and t.is_floating_point() and t.shape[1] == columns and t.shape[0] != n
        for t in iter_tensors(bench.batch.inputs)
    ) and any(isinstance(module, torch.nn.RNNBase) for module in bench.model.modules())
    time_major = columns != n and ((along_dim0 and not along_dim1) or rnn_state)
    return time_major, (along_dim0 if time_major else along_dim1), columns


def _shifted_by_one(inputs: torch.Tensor, targets: torch.Tensor) -> bool:
    """targets[:, t] is inputs[:, t+1]: both of length T (the last target is the next
    token after the window), or targets one shorter (the shift done in the loss, as
    transformers' causal LMs do with `labels=input_ids`)."""
    if inputs.shape[2:] != targets.shape[2:] or inputs.is_floating_point() != targets.is_floating_point():
        return False
    targets = targets.to(inputs.dtype)
    if inputs.shape == targets.shape:
        return bool(torch.equal(inputs[:, 1:], targets[:, :-1]))
    return targets.shape[1] == inputs.shape[1] - 1 and bool(torch.equal(inputs[:, 1:], targets))


def _causal_probe(output: torch.Tensor, probes: list[torch.Tensor], n: int,
                  orient: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, Any] | None:
    """Gradient of sample 0's output at early positions w.r.t. its later input positions
    (`orient` puts a probe's sample dim first)."""
    length = output.shape[1] if output.dim() >= 3 else 0
    sequence_probes = [p for p in probes if p.dim() >= 3 and orient(p).shape[:2] == (n, length)]
    if length < 2 or not sequence_probes:
        return None
    worst: dict[str, Any] = {"ratio": 0.0, "position": None, "future_position": None}
    for position in sorted({0, length // 2}):
        if position >= length - 1:
            continue
        grads = torch.autograd.grad(output[0, position].float().sum(), sequence_probes, retain_graph=True, allow_unused=True)
        own, future, future_position = 0.0, 0.0, None
        for grad in grads:
            if grad is None:
                continue
            per_position = orient(grad)[0].detach().abs().float().reshape(length, -1).amax(1)
            own = max(own, float(per_position[: position + 1].max()))
            later = per_position[position + 1:]
            if float(later.max()) > future:
                future, future_position = float(later.max()), position + 1 + int(later.argmax())
        ratio = future / own if own > 0 else (float("inf") if future > 0 else 0.0)
        if ratio > worst["ratio"]:
            worst = {"ratio": ratio, "position": position, "future_position": future_position,
                     "own_gradient": own, "future_gradient": future}
    return worst
