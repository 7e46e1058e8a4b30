"""The scale of what a model is fed, from its first training batches (the
`unnormalized-inputs` evidence): pixels left at 0..255, or features whose scales differ by
orders of magnitude, make the first layer's effective learning rate per feature differ
just as much. Only floating-point inputs are described: token ids are indices, not scales.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)

DESCRIBED_BATCHES = 3
LARGEST_SHOWN = 5
# The usual names of the tensor that carries the data, when it is passed by keyword.
INPUT_KEYWORDS = ("x", "input", "inputs", "pixel_values", "inputs_embeds", "features", "images")


def first_float_input(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[str, torch.Tensor] | None:
    for index, value in enumerate(args):
        if isinstance(value, torch.Tensor):
            return (f"argument {index}", value) if value.is_floating_point() else None
    for name in INPUT_KEYWORDS:
        value = kwargs.get(name)
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return name, value
    return None


def _feature_axis(shape: torch.Size) -> int | None:
    """(B, F) and images (B, C, H, W): axis 1; sequences (B, T, F): the last axis."""
    if len(shape) == 2:
        return 1
    if len(shape) == 3:
        return -1
    if len(shape) in (4, 5):
        return 1
    return None


def describe_input(args: tuple[Any, ...], kwargs: Mapping[str, Any], *, model: str, step: int) -> dict[str, Any] | None:
    found = first_float_input(args, kwargs)
    if found is None:
        return None
    argument, tensor = found
    values = tensor.detach().float()
    if values.numel() < 2 or values.dim() < 2:
        return None
    axis = _feature_axis(values.shape)
    record: dict[str, Any] = {
        "model": model, "step": step, "argument": argument, "shape": list(values.shape),
        "dtype": str(tensor.dtype).replace("torch.", ""), "feature_axis": axis,
        "feature_count": None, "constant_features": 0, "feature_std_quantiles": None, "largest_features": None,
    }
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return None
    record.update(rms=float(finite.square().mean().sqrt()), abs_max=float(finite.abs().max()),
                  mean=float(finite.mean()))
    if axis is None or values.shape[0] < 2:
        return record
    per_feature = values.movedim(axis, -1).reshape(-1, values.shape[axis])
    std = torch.nan_to_num(per_feature.std(dim=0), nan=0.0)
    # Constant within float32 rounding of its own values (a bias column of ones, padding).
    constant = std <= 1e-6 * torch.nan_to_num(per_feature.abs().mean(dim=0), nan=0.0)
    varying = std[~constant]
    record["feature_count"] = int(std.numel())
    record["constant_features"] = int(constant.sum())
    if varying.numel():
        quantiles = torch.quantile(varying.double(), torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=torch.double))
        record["feature_std_quantiles"] = [float(q) for q in quantiles]
        top = torch.topk(std, min(LARGEST_SHOWN, std.numel()))
        record["largest_features"] = [[int(i), float(v)] for v, i in zip(top.values, top.indices)]
    return record


def first_layer_probe(session: Any, record: dict[str, Any]) -> Any:
    """A global forward pre-hook, armed for one training forward: the first layer with
    parameters (or normalisation layer) that runs records the scale of what it actually
    receives — `forward` may rescale the input itself (`x / 255`) — and whether that layer
    normalises it anyway. It removes itself once it has seen it."""
    def probe(module: nn.Module, args: tuple[Any, ...]) -> None:
        try:
            if next(module.children(), None) is not None:
                return
            is_norm = isinstance(module, NORM_TYPES)
            if not is_norm and next(module.parameters(recurse=False), None) is None:
                return
            session._disarm_first_layer_probe()
            found = first_float_input(args, {})
            if found is not None and found[1].numel():
                values = found[1].detach().float()
                record["first_layer_input_rms"] = float(values.square().mean().sqrt())
            record["first_layer"] = type(module).__name__
            record["normalized_inside"] = is_norm
        except Exception as error:  # noqa: BLE001 — the forward must go on
            session._disarm_first_layer_probe()
            session.faults.record("input description", error, session.step)
    return probe
