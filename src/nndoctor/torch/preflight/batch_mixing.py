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

from typing import Any

import torch

from nndoctor.core.preflight_protocol import MAX_PROBES
from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.structures import call_model, iter_tensors, map_batch_tensors, primary_output
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
    if n < 2:
        raise ExperimentUnavailable("the batch has a single sample, so samples cannot mix")
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
            output = primary_output(call_model(model, inputs))
    finally:
        for handle in handles:
            handle.remove()
    probes = float_inputs + captured
    if output is None or output.dim() == 0 or output.shape[0] != n:
        raise ExperimentUnavailable("the model output has no leading batch dimension of N samples")
    if not probes or not output.requires_grad:
        raise ExperimentUnavailable("no floating-point input or embedding output to take gradients against")
    pairs = []
    worst_ratio, worst_pair = 0.0, None
    for i in sorted({0, n - 1})[:MAX_PROBES]:
        grads = torch.autograd.grad(output[i].float().sum(), probes, retain_graph=True, allow_unused=True)
        own, other, other_index = 0.0, 0.0, None
        for grad in grads:
            if grad is None:
                continue
            rows = grad.detach().reshape(n, -1).abs().float().amax(1)
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
        "causal": _causal_probe(output, probes, n) if _next_step_targets(bench) else None,
    }


def _next_step_targets(bench: Workbench) -> bool:
    """Targets that are the inputs shifted by one step (language modelling, forecasting):
    then output t must not see input t+1 or later, whatever the architecture."""
    n = bench.batch.n_samples
    inputs = [t for t in iter_tensors(bench.batch.inputs) if t.dim() >= 2 and t.shape[0] == n and t.shape[1] > 1]
    targets = [t for t in iter_tensors(bench.batch.targets) if t.dim() >= 2]
    return any(
        x.shape == y.shape and torch.equal(x[:, 1:], y[:, :-1]) for x in inputs[:1] for y in targets[:1]
    )


def _causal_probe(output: torch.Tensor, probes: list[torch.Tensor], n: int) -> dict[str, Any] | None:
    """Gradient of sample 0's output at early positions w.r.t. its later input positions."""
    length = output.shape[1] if output.dim() >= 3 else 0
    sequence_probes = [p for p in probes if p.dim() >= 3 and p.shape[:2] == (n, length)]
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
            per_position = grad[0].detach().abs().float().reshape(length, -1).amax(1)
            own = max(own, float(per_position[: position + 1].max()))
            later = per_position[position + 1:]
            if float(later.max()) > future:
                future, future_position = float(later.max()), position + 1 + int(later.argmax())
        ratio = future / own if own > 0 else (float("inf") if future > 0 else 0.0)
        if ratio > worst["ratio"]:
            worst = {"ratio": ratio, "position": position, "future_position": future_position,
                     "own_gradient": own, "future_gradient": future}
    return worst
