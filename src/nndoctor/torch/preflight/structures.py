"""Helpers for the nested inputs preflight accepts: a tensor, a tuple/list or a dict of them.

The batch convention: every tensor that carries samples has them on dim 0, and all of
them have the same number of samples N. Tensors without that leading N (a mask shared by
all samples, a scalar flag) pass through untouched when the batch is sliced or perturbed.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch


def iter_tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from iter_tensors(item)


def map_tensors(value: Any, function: Callable[[torch.Tensor], Any]) -> Any:
    """The same structure with every tensor replaced by `function(tensor)`."""
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
        return type(value)(*(map_tensors(item, function) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(map_tensors(item, function) for item in value)
    if isinstance(value, dict):
        return type(value)((key, map_tensors(item, function)) for key, item in value.items())
    return value


def map_batch_tensors(value: Any, n_samples: int, function: Callable[[torch.Tensor], Any]) -> Any:
    """Like map_tensors, but only for tensors whose dim 0 holds the N samples."""
    def apply(tensor: torch.Tensor) -> Any:
        if tensor.dim() >= 1 and tensor.shape[0] == n_samples:
            return function(tensor)
        return tensor

    return map_tensors(value, apply)


def slice_batch(value: Any, n_samples: int, count: int) -> Any:
    """The first `count` samples of every batch tensor."""
    return map_batch_tensors(value, n_samples, lambda tensor: tensor[:count])


def call_model(model: torch.nn.Module, inputs: Any) -> Any:
    """A tensor is passed as one argument, a tuple/list as positional arguments, a dict as
    keyword arguments — the three ways models are called in practice."""
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)) and not hasattr(inputs, "_fields"):
        return model(*inputs)
    return model(inputs)


def primary_output(outputs: Any) -> torch.Tensor | None:
    """The tensor that holds the predictions: the output itself, the first tensor of a
    tuple (an LSTM returns `(output, (h, c))`), `logits` of a dict or the first value."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        if isinstance(outputs.get("logits"), torch.Tensor):
            return outputs["logits"]
        return next(iter_tensors(outputs), None)
    if isinstance(outputs, (tuple, list)):
        return next(iter_tensors(outputs), None)
    logits = getattr(outputs, "logits", None)  # model-output dataclasses (transformers)
    return logits if isinstance(logits, torch.Tensor) else None


def rows_identical(value: Any, n_samples: int) -> list[list[int]]:
    """Groups of sample indices whose batch tensors are all exactly equal (duplicates).

    Rows are first grouped by a random projection computed where the data lives (cheap
    even for large images), then confirmed equal exactly, so a collision cannot merge
    different samples."""
    tensors = [t.detach() for t in iter_tensors(value) if t.dim() >= 1 and t.shape[0] == n_samples]
    if not tensors:
        return [list(range(n_samples))]
    generator = torch.Generator().manual_seed(0)
    fingerprint = torch.zeros(n_samples, dtype=torch.float64)
    for tensor in tensors:
        rows = tensor.reshape(n_samples, -1)
        rows = rows.real if rows.is_complex() else rows
        weights = torch.randn(rows.shape[1], generator=generator, dtype=torch.float64)
        fingerprint = fingerprint * 1.618 + (rows.to(torch.float64) @ weights.to(rows.device)).cpu()
    candidates: dict[float, list[int]] = {}
    for index, key in enumerate(fingerprint.tolist()):
        candidates.setdefault(key, []).append(index)
    groups: list[list[int]] = []
    for members in candidates.values():
        while members:
            first, rest = members[0], members[1:]
            same = [i for i in rest if all(torch.equal(t[first], t[i]) for t in tensors)]
            groups.append([first, *same])
            members = [i for i in rest if i not in same]
    return sorted(groups)
