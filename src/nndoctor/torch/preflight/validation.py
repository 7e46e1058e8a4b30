"""Check what the user passed to `preflight` and say in one line what was expected.

Every problem becomes a `UsageError` naming the argument, what it should be and what it
was, so a wrong call never ends in a torch traceback from deep inside an experiment.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from nndoctor.core.errors import UsageError
from nndoctor.core.preflight_protocol import DEFAULT_STEPS
from nndoctor.torch.preflight.structures import iter_tensors, rows_per_sample

DEFAULT_SEED = 0
KNOWN_OPTIONS = ("steps", "seed", "select", "ignore", "thresholds")


@dataclass
class PreflightOptions:
    steps: int = DEFAULT_STEPS
    seed: int = DEFAULT_SEED
    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Batch:
    inputs: Any
    targets: Any
    n_samples: int


def parse_options(options: dict[str, Any]) -> PreflightOptions:
    unknown = sorted(set(options) - set(KNOWN_OPTIONS))
    if unknown:
        raise UsageError(
            f"preflight() got unknown option(s) {', '.join(unknown)}; "
            f"expected any of {', '.join(KNOWN_OPTIONS)}"
        )
    parsed = PreflightOptions()
    if "steps" in options:
        steps = options["steps"]
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise UsageError(f"preflight(steps=...) must be a positive int, got {steps!r}")
        parsed.steps = steps
    if "seed" in options:
        seed = options["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise UsageError(f"preflight(seed=...) must be an int, got {seed!r}")
        parsed.seed = seed
    for name in ("select", "ignore"):
        if name in options and options[name] is not None:
            parsed.__setattr__(name, _names(name, options[name]))
    thresholds = options.get("thresholds")
    if thresholds is not None:
        if not isinstance(thresholds, dict) or not all(isinstance(v, dict) for v in thresholds.values()):
            raise UsageError(
                "preflight(thresholds=...) must be a dict {rule_id: {threshold_name: value}}, "
                f"got {type(thresholds).__name__}"
            )
        parsed.thresholds = {str(k): dict(v) for k, v in thresholds.items()}
    return parsed


def _names(option: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple, set)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise UsageError(f"preflight({option}=...) takes rule ids or areas as a list of str, got {value!r}")


def check_model(model: Any) -> torch.nn.Module:
    if not isinstance(model, torch.nn.Module):
        raise UsageError(f"preflight() expects a torch.nn.Module as model, got {type(model).__name__}")
    return model


def check_loss_fn(loss_fn: Any) -> None:
    if not callable(loss_fn):
        raise UsageError(
            f"preflight() expects loss_fn to be callable as loss_fn(outputs, targets), "
            f"got {type(loss_fn).__name__}"
        )


def check_optimizer(optimizer: Any) -> None:
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise UsageError(
            f"preflight() expects optimizer to be a torch.optim.Optimizer or None, got {type(optimizer).__name__}"
        )


def check_batch(batch: Any) -> Batch:
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        kind = f"a {type(batch).__name__} of length {len(batch)}" if isinstance(batch, (tuple, list)) else type(batch).__name__
        raise UsageError(f"preflight() expects batch as a pair (inputs, targets), got {kind}")
    inputs, targets = batch
    input_tensors = list(iter_tensors(inputs))
    if not input_tensors:
        raise UsageError(
            "batch inputs must be a tensor, or a tuple/list/dict (possibly nested) holding tensors, "
            f"got {_described(inputs)}"
        )
    # The samples are counted on the first tensor that has a dim 0 (a 0-d flag may come first).
    first = next((t for t in input_tensors if t.dim() >= 1), input_tensors[0])
    if first.dim() == 0:
        raise UsageError("batch inputs need a leading batch dimension (shape (N, ...)), got a 0-d tensor")
    n_samples = int(first.shape[0])
    if n_samples == 0:
        raise UsageError(f"batch is empty: inputs have shape {tuple(first.shape)}, expected at least 1 sample")
    target_tensors = list(iter_tensors(targets))
    if not target_tensors:
        raise UsageError(f"batch targets must be a tensor (or a tuple/dict of tensors), got {type(targets).__name__}")
    for target in target_tensors:
        if rows_per_sample(target, n_samples) is None:
            raise UsageError(
                f"batch targets have shape {tuple(target.shape)} but inputs have {n_samples} samples; "
                f"expected targets of shape ({n_samples}, ...), or ({n_samples}·T, ...) for flattened sequences"
            )
    return Batch(inputs, targets, n_samples)


def _described(value: Any) -> str:
    """The type of a value and, for containers, of what they hold: `tuple of (dict, str)`."""
    if isinstance(value, (tuple, list)) and value:
        return f"{type(value).__name__} of ({', '.join(type(v).__name__ for v in value[:4])}{', …' if len(value) > 4 else ''})"
    if isinstance(value, dict) and value:
        return f"{type(value).__name__} with keys {', '.join(map(str, list(value)[:6]))}"
    return type(value).__name__


def check_devices(model: torch.nn.Module, batch: Batch) -> torch.device | None:
    devices = {p.device for p in model.parameters()} | {b.device for b in model.buffers()}
    if len(devices) != 1:
        return None  # a model spread over devices moves data itself; nothing to compare
    device = devices.pop()
    for label, value in (("inputs", batch.inputs), ("targets", batch.targets)):
        for tensor in iter_tensors(value):
            if tensor.device != device:
                raise UsageError(
                    f"batch {label} are on {tensor.device} but the model is on {device}; "
                    f"move them with .to({str(device)!r})"
                )
    return device


def check_loss_value(loss: Any) -> torch.Tensor:
    if not isinstance(loss, torch.Tensor):
        raise UsageError(
            f"loss_fn(outputs, targets) must return a scalar tensor, got {type(loss).__name__}"
            " (return the loss tensor itself, not loss.item())"
        )
    if loss.numel() != 1:
        raise UsageError(
            f"loss_fn(outputs, targets) must return a scalar, got a tensor of shape {tuple(loss.shape)}"
            " (use reduction='mean' or call .mean() on it)"
        )
    if not loss.is_floating_point():
        raise UsageError(f"loss_fn(outputs, targets) must return a floating-point scalar, got dtype {loss.dtype}")
    return loss


def user_call_error(what: str, error: Exception) -> UsageError:
    """The user's model or loss raised on the real batch: report it in one line."""
    detail = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return UsageError(f"{what} raised {type(error).__name__}: {detail[:300]}")
