"""The loss functions as the watcher sees them: which tensor is the prediction and which
the target, the per-sample mean of a loss whatever its reduction, and torch's own warnings
from inside a wrapped loss re-issued at the user's line."""
from __future__ import annotations

import os
import warnings
from typing import Any

import torch

# Classification losses count one sample per row of the class dimension.
PER_ROW_KINDS = {"cross_entropy", "nll"}
# Losses for which torch warns when prediction and target sizes differ.
SIZE_WARNING_KINDS = {"mse", "l1", "smooth_l1", "huber"}

_RELAYED_WARNINGS: set[tuple[Any, ...]] = set()


def loss_target_tensor(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    prediction = args[0] if args else kwargs.get("input")
    target = args[1] if len(args) > 1 else kwargs.get("target")
    return prediction, target


def mean_loss_value(kind: str, output: torch.Tensor, prediction: Any, reduction: str) -> float:
    """The per-sample mean of a loss, whatever its `reduction`, so that validation losses
    summed with `reduction='sum'` compare with mean training losses."""
    value = output.detach().float()
    if reduction == "none":
        return float(value.mean())
    total = float(value.sum())
    if reduction != "sum" or not isinstance(prediction, torch.Tensor):
        return total
    if kind in PER_ROW_KINDS and prediction.dim() >= 2:
        count = prediction.numel() // max(prediction.shape[1], 1)
    else:
        count = prediction.numel()
    return total / max(count, 1)


def judged_value(output: torch.Tensor, reduction: str, kwargs: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    """A loss call's value as the initial-loss expectation judges it (a per-sample mean for
    reduction='none'), with the options that expectation is computed for."""
    options = dict(kwargs)
    options["reduction"] = "mean" if reduction == "none" else reduction
    value = output.detach().float()
    return float(value.mean() if reduction == "none" else value.sum()), options


def may_warn(kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Would torch warn inside this loss call (size mismatch, kl_div's 'mean', legacy
    arguments)? Those warnings name the caller's line, which must stay the user's."""
    if kind == "kl_div" or "size_average" in kwargs or "reduce" in kwargs:
        return True
    if kind not in SIZE_WARNING_KINDS:
        return False
    prediction, target = loss_target_tensor(args, kwargs)
    return (isinstance(prediction, torch.Tensor) and isinstance(target, torch.Tensor)
            and prediction.shape != target.shape)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def user_frame(frame: Any) -> Any:
    """The first frame outside nndoctor (preflight's loss recorder may sit in between)."""
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return frame


def call_relaying_warnings(original: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                            caller: Any) -> Any:
    """Call the loss and re-issue its warnings at the caller's line, through the normal
    filters, exactly as if the wrapper were not there."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        output = original(*args, **kwargs)
    for warning in caught:
        key = (warning.category, str(warning.message), caller.f_code.co_filename, caller.f_lineno)
        if key in _RELAYED_WARNINGS:
            # catch_warnings invalidates the per-module registries, so "show once per
            # location" (Python's default) is kept here.
            continue
        _RELAYED_WARNINGS.add(key)
        registry = caller.f_globals.setdefault("__warningregistry__", {})
        warnings.warn_explicit(warning.message, warning.category, caller.f_code.co_filename,
                               caller.f_lineno, module=caller.f_globals.get("__name__"),
                               registry=registry, module_globals=caller.f_globals)
    return output
