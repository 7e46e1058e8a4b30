"""Following tensors through a forward pass without keeping them alive.

The trace keys what it learns by `id(tensor)`; `remember` forgets an entry when its
tensor is freed, so ids are never confused and nothing outlives a normal no-grad forward.
The other helpers flatten nested op arguments and pick the predictions out of an output.
"""
from __future__ import annotations

import math
import weakref
from typing import Any

import torch


def remember(mapping: dict[int, Any], tensor: torch.Tensor, value: Any) -> None:
    """mapping[id(tensor)] = value, removed when the tensor is freed (its id may be reused)."""
    mapping[id(tensor)] = value
    weakref.finalize(tensor, mapping.pop, id(tensor), None)


def rms(values: torch.Tensor) -> float:
    value = float(values.pow(2).mean().sqrt()) if values.numel() else 0.0
    return value if math.isfinite(value) else float("inf")


def flatten(values: list | tuple) -> list:
    """The leaves of nested lists, tuples and dict values, in order."""
    flat: list = []
    for value in values:
        if isinstance(value, (list, tuple)):
            flat.extend(flatten(value))
        elif isinstance(value, dict):
            flat.extend(flatten(list(value.values())))
        else:
            flat.append(value)
    return flat


def first_tensor(value: Any) -> torch.Tensor | None:
    """The predictions: the output, `logits` of a dict or output object, or the first tensor."""
    if isinstance(value, dict) and "logits" in value:
        value = value["logits"]
    elif isinstance(getattr(value, "logits", None), torch.Tensor):
        value = value.logits
    for item in flatten([value]):
        if isinstance(item, torch.Tensor):
            return item
    return None

