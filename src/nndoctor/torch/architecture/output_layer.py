"""The output layer's bias next to what the targets say it should start at.

For the `output-bias-imbalance` rule: the final weight layer's bias, the activation the
output goes through, and a summary of the targets — class counts, positives per output
unit, or target and output means — whichever the targets' dtype and shape say this is.
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.torch.architecture.forward_trace import ForwardTrace

MAX_CLASSES = 1000  # larger heads (language-model vocabularies) are not judged per class


def describe_output(trace: ForwardTrace, targets: Any, inputs: Any = None) -> dict[str, Any] | None:
    """The final weight layer's bias next to what the targets say it should start at.
    `targets_are_inputs` marks a reconstruction (an autoencoder's targets are its inputs):
    its per-pixel target rates are not class priors."""
    index, output = trace.output_layer_index()
    if index is None or output is None:
        return None
    record = trace.layers[index]
    module = trace.model.get_submodule("" if record["name"] == "(model)" else record["name"])
    bias = getattr(module, "bias", None)
    if not isinstance(bias, torch.Tensor) or bias.dim() != 1 or bias.numel() > MAX_CLASSES:
        return None
    unit_dim = 1 if "Conv" in record["kind"] else -1
    final_activation = trace.activation_on.get(id(output))
    described = {"name": record["name"], "kind": record["kind"], "bias": bias.detach().float().tolist(),
                 "output_shape": list(output.shape), "final_activation": final_activation}
    described["targets"] = describe_targets(
        output.detach().float(), targets, unit_dim, bias.numel(), sigmoid_output=final_activation == "sigmoid")
    described["targets_are_inputs"] = _same_tensor(targets, inputs)
    return described


def _same_tensor(targets: Any, inputs: Any) -> bool:
    if not isinstance(targets, torch.Tensor) or not isinstance(inputs, torch.Tensor):
        return False
    if targets is inputs:
        return True
    # A reconstruction loss often sees the input reshaped (`x.view(-1, 784)` against images
    # of shape (B, 1, 28, 28)): same values in the same order count as the same tensor.
    return (targets.numel() == inputs.numel() and targets.dtype == inputs.dtype
            and bool(torch.equal(targets.detach().cpu().reshape(-1), inputs.detach().cpu().reshape(-1))))


def describe_targets(
    output: torch.Tensor, targets: Any, unit_dim: int, units: int, *, sigmoid_output: bool = False
) -> dict[str, Any] | None:
    """Class counts, positives per output unit, or target/output means — whichever the
    targets' dtype and shape say this is; None when it cannot be told apart."""
    if not isinstance(targets, torch.Tensor) or output.dim() == 0 or targets.numel() == 0:
        return None
    targets, output = targets.detach().cpu(), output.cpu()
    if units == 1:
        if targets.numel() != output.numel() or not (targets.is_floating_point() or targets.dtype == torch.bool):
            return None
        per_unit_targets, per_unit_outputs = targets.float().reshape(-1, 1), output.reshape(-1, 1)
    else:
        unit_dim = unit_dim % output.dim()
        if output.shape[unit_dim] != units:
            return None
        if not targets.is_floating_point() and targets.dtype != torch.bool:
            expected = list(output.shape[:unit_dim]) + list(output.shape[unit_dim + 1:])
            if list(targets.shape) != expected:
                return None
            valid = targets[(targets >= 0) & (targets < units)].long()
            return {"kind": "class_index", "counts": torch.bincount(valid, minlength=units).tolist()}
        if targets.shape != output.shape:
            return None
        per_unit_targets = targets.float().movedim(unit_dim, -1).reshape(-1, units)
        per_unit_outputs = output.movedim(unit_dim, -1).reshape(-1, units)
    if bool(((per_unit_targets == 0) | (per_unit_targets == 1)).all()):
        one_hot = units > 1 and bool((per_unit_targets.sum(1) == 1).all())
        if one_hot and not sigmoid_output:  # one-hot rows for a softmax: class counts
            return {"kind": "class_index", "counts": per_unit_targets.sum(0).round().long().tolist()}
        return {"kind": "binary", "n": int(per_unit_targets.shape[0]),
                "positives": per_unit_targets.sum(0).round().long().tolist()}
    if sigmoid_output and bool(((per_unit_targets >= 0) & (per_unit_targets <= 1)).all()):
        # Probabilities as targets of a sigmoid (soft labels, grey pixels, masks): the best
        # constant logit is the log-odds of the mean target, so the summed target mass
        # plays the part of the positive count.
        return {"kind": "binary", "n": int(per_unit_targets.shape[0]), "soft": True,
                "positives": per_unit_targets.sum(0).round().long().tolist()}
    return {"kind": "regression", "n": int(per_unit_targets.shape[0]),
            "target_mean": per_unit_targets.mean(0).tolist(),
            "target_std": per_unit_targets.std(0, unbiased=False).tolist(),
            "output_mean": per_unit_outputs.mean(0).tolist()}
