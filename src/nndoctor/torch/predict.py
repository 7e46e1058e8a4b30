"""`nndoctor.torch.predict(model, loader)`: collect what `nndoctor.evaluate` needs from a DataLoader.

    predictions = nndoctor.torch.predict(model, val_loader)
    report = nndoctor.evaluate(**predictions, slices=val_metadata)

Runs the model in eval mode under `torch.no_grad()` and restores its previous mode (also
after an exception). Batches may be `(inputs, targets)`, `(inputs, targets, ids)` or a dict
with keys for the inputs (`input`, `inputs`, `x`, `image`), the targets (`target`,
`targets`, `y`, `label`, `labels`) and optional ids (`id`, `ids`, `index`, `sample_id`).
The task follows the outputs and targets: several output columns and integer targets →
classification (softmax); one output column with 0/1 targets → binary (sigmoid); outputs
shaped like float 0/1 targets → multi-label (sigmoid); otherwise regression.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from nndoctor.core.errors import UsageError

INPUT_KEYS = ("input", "inputs", "x", "image", "images")
TARGET_KEYS = ("target", "targets", "y", "label", "labels")
ID_KEYS = ("id", "ids", "index", "sample_id", "sample_ids")


def _pick(batch: dict, keys: tuple[str, ...], what: str, required: bool = True) -> Any:
    for key in keys:
        if key in batch:
            return batch[key]
    if required:
        raise UsageError(f"a dict batch needs a {what} key ({', '.join(keys)}); it has {', '.join(map(str, batch))}")
    return None


def _split_batch(batch: Any) -> tuple[Any, torch.Tensor, Any]:
    if isinstance(batch, dict):
        return _pick(batch, INPUT_KEYS, "input"), _pick(batch, TARGET_KEYS, "target"), \
            _pick(batch, ID_KEYS, "id", required=False)
    if isinstance(batch, (tuple, list)) and len(batch) in (2, 3):
        return batch[0], batch[1], batch[2] if len(batch) == 3 else None
    raise UsageError("each batch must be (inputs, targets), (inputs, targets, ids) or a dict with input and "
                     f"target keys; got {type(batch).__name__}")


def _to_device(value: Any, device: torch.device | None) -> Any:
    if device is None:
        return value
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device) for v in value)
    if isinstance(value, dict):
        return {k: _to_device(v, device) for k, v in value.items()}
    return value


def _task(outputs: torch.Tensor, targets: torch.Tensor) -> str:
    integer_targets = not torch.is_floating_point(targets) or bool(torch.all(targets == targets.round()))
    if outputs.ndim == 2 and outputs.shape[1] > 1:
        if targets.shape == outputs.shape and bool(torch.all((targets == 0) | (targets == 1))):
            return "multilabel"
        if targets.ndim == 1 and integer_targets:
            return "classification"
    squeezed = outputs.reshape(len(outputs), -1)
    if squeezed.shape[1] == 1 and bool(torch.all((targets == 0) | (targets == 1))) and targets.numel() > 0 \
            and len(torch.unique(targets)) == 2:
        return "binary"
    return "regression"


def predict(model: torch.nn.Module, loader: Iterable[Any], *, loss_fn: Callable[..., torch.Tensor] | None = None,
            device: str | torch.device | None = None, task: str | None = None) -> dict[str, Any]:
    """Run `model` over `loader`; returns a dict with y_true, predictions, probabilities,
    losses and sample_ids (numpy arrays) that `nndoctor.evaluate(**result)` accepts.

    `loss_fn` (with `reduction="none"`, or any callable returning one loss per sample)
    gives the per-sample losses; without it cross-entropy / binary cross-entropy / squared
    error is used. `task` overrides the inference ("classification", "binary",
    "multilabel", "regression").
    """
    device = torch.device(device) if device is not None else None
    was_training = model.training
    outputs_all, targets_all, ids_all, losses_all = [], [], [], []
    seen = 0
    model.eval()
    try:
        with torch.no_grad():
            for batch in loader:
                inputs, targets, ids = _split_batch(batch)
                inputs = _to_device(inputs, device)
                outputs = model(*inputs) if isinstance(inputs, (tuple, list)) else model(inputs)
                if not isinstance(outputs, torch.Tensor):
                    raise UsageError(f"the model returned {type(outputs).__name__}; predict needs one output tensor")
                targets = torch.as_tensor(targets).to(outputs.device)
                if loss_fn is not None:
                    per_sample = loss_fn(outputs, targets)
                    if per_sample.ndim == 0:
                        raise UsageError("loss_fn returned one number per batch; pass it with reduction='none'")
                    losses_all.append(per_sample.reshape(len(outputs), -1).mean(dim=1).float().cpu())
                outputs_all.append(outputs.float().cpu())
                targets_all.append(targets.cpu())
                count = len(outputs)
                ids_all.append(np.arange(seen, seen + count) if ids is None else np.asarray(
                    ids.cpu() if isinstance(ids, torch.Tensor) else ids))
                seen += count
    finally:
        model.train(was_training)
    if not outputs_all:
        raise UsageError("the loader yielded no batches; there is nothing to evaluate")
    outputs, targets = torch.cat(outputs_all), torch.cat(targets_all)
    kind = task or _task(outputs, targets)
    result: dict[str, Any] = {"sample_ids": np.concatenate(ids_all)}
    if kind == "classification":
        probabilities = torch.softmax(outputs, dim=1)
        result.update(y_true=targets.long().numpy(), predictions=probabilities.argmax(dim=1).numpy(),
                      probabilities=probabilities.numpy(), task="classification")
        default = torch.nn.functional.cross_entropy(outputs, targets.long(), reduction="none")
    elif kind in ("binary", "multilabel"):
        logits = outputs.reshape(len(outputs), -1) if kind == "multilabel" else outputs.reshape(-1)
        probabilities = torch.sigmoid(logits)
        target_values = targets.float().reshape(logits.shape)
        result.update(y_true=target_values.long().numpy(), predictions=(probabilities >= 0.5).long().numpy(),
                      probabilities=probabilities.numpy(),
                      task="classification" if kind == "binary" else "multilabel")
        default = torch.nn.functional.binary_cross_entropy_with_logits(logits, target_values, reduction="none")
        default = default.reshape(len(outputs), -1).mean(dim=1)
    else:
        values = outputs.reshape(len(outputs), -1)
        if values.shape[1] != 1:
            raise UsageError(f"regression outputs must have one value per sample, got shape {tuple(outputs.shape)}")
        result.update(y_true=targets.float().reshape(-1).numpy(), predictions=values[:, 0].numpy(),
                      probabilities=None, task="regression")
        default = (values[:, 0] - targets.float().reshape(-1)) ** 2
    result["losses"] = (torch.cat(losses_all) if losses_all else default).numpy()
    return result


__all__ = ["predict"]
