"""Helpers for the nested inputs preflight accepts: tensors inside any nesting of
tuples, lists, mappings (dict, Hugging Face BatchEncoding) and dataclasses, with
non-tensor entries (flags, strings, None) passed through untouched.

The batch convention: every input tensor that carries samples has them on dim 0, and all
of them have the same number of samples N. Input tensors without that leading N (a mask
shared by all samples, a scalar flag) pass through untouched when the batch is sliced or
perturbed. Targets may also be flattened sequences: a leading dim of N·T holds T rows per
sample, in sample order (`targets.view(-1)` of an (N, T) tensor).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class CallArguments:
    """Positional and keyword arguments of one model call, `model(*args, **kwargs)`: how
    `nndoctor run --preflight` hands over a call such as `model(ids, attention_mask=mask)`."""

    args: tuple = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


def _is_dataclass_instance(value: Any) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


# Keyword inputs that are targets, not data: transformers models take `labels=` and
# compute their loss inside. Perturbing them, or counting them as what makes samples
# differ, would change the task instead of the input.
TARGET_KEYS = frozenset({"labels", "label", "label_ids", "targets", "target"})
NO_KEYS: frozenset[str] = frozenset()


def iter_tensors(value: Any, skip_keys: frozenset[str] = NO_KEYS) -> Iterator[torch.Tensor]:
    """Every tensor in the structure, except mapping entries under `skip_keys`."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from iter_tensors(item, skip_keys)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in skip_keys:
                yield from iter_tensors(item, skip_keys)
    elif isinstance(value, CallArguments):
        yield from iter_tensors(value.args, skip_keys)
        yield from iter_tensors(value.kwargs, skip_keys)
    elif _is_dataclass_instance(value):
        for item in dataclasses.fields(value):
            yield from iter_tensors(getattr(value, item.name, None), skip_keys)


def _rebuilt_mapping(value: Mapping, items: dict[str, Any]) -> Any:
    """A mapping of the same type when its constructor takes a dict (dict, OrderedDict,
    BatchEncoding, ModelOutput), else a plain dict, which `model(**inputs)` accepts alike."""
    try:
        rebuilt = type(value)(items)
    except Exception:  # noqa: BLE001 — a custom mapping with another constructor
        return items
    return rebuilt if isinstance(rebuilt, Mapping) and list(rebuilt.keys()) == list(items) else items


def map_tensors(value: Any, function: Callable[[torch.Tensor], Any], skip_keys: frozenset[str] = NO_KEYS) -> Any:
    """The same structure with every tensor replaced by `function(tensor)` (mapping
    entries under `skip_keys` are kept as they are)."""
    def again(item: Any) -> Any:
        return map_tensors(item, function, skip_keys)

    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # namedtuple
        return type(value)(*(again(item) for item in value))
    if isinstance(value, (tuple, list)):
        return type(value)(again(item) for item in value)
    if isinstance(value, Mapping):
        return _rebuilt_mapping(value, {key: item if key in skip_keys else again(item) for key, item in value.items()})
    if isinstance(value, CallArguments):
        return CallArguments(again(value.args), again(value.kwargs))
    if _is_dataclass_instance(value) and any(True for _ in iter_tensors(value)):
        try:
            return dataclasses.replace(value, **{
                item.name: again(getattr(value, item.name)) for item in dataclasses.fields(value) if item.init
            })
        except Exception:  # noqa: BLE001 — a dataclass whose __init__ differs from its fields
            return value
    return value


def map_batch_tensors(value: Any, n_samples: int, function: Callable[[torch.Tensor], Any],
                      skip_keys: frozenset[str] = NO_KEYS) -> Any:
    """Like map_tensors, but only for tensors whose dim 0 holds the N samples."""
    def apply(tensor: torch.Tensor) -> Any:
        if tensor.dim() >= 1 and tensor.shape[0] == n_samples:
            return function(tensor)
        return tensor

    return map_tensors(value, apply, skip_keys)


def slice_batch(value: Any, n_samples: int, count: int) -> Any:
    """The first `count` samples of every batch tensor."""
    return map_batch_tensors(value, n_samples, lambda tensor: tensor[:count])


def rows_per_sample(tensor: torch.Tensor, n_samples: int) -> int | None:
    """T when a target's leading dim holds N·T rows (a flattened sequence), 1 for N, else None."""
    if tensor.dim() == 0 or n_samples == 0 or tensor.shape[0] % n_samples:
        return None
    return int(tensor.shape[0]) // n_samples or None


def slice_targets(value: Any, n_samples: int, count: int) -> Any:
    """The targets of the first `count` samples, flattened sequence targets included
    (their first count·T rows)."""
    def first(tensor: torch.Tensor) -> torch.Tensor:
        rows = rows_per_sample(tensor, n_samples)
        return tensor[: count * rows] if rows else tensor

    return map_tensors(value, first)


def per_sample_view(tensor: torch.Tensor, n_samples: int) -> torch.Tensor | None:
    """`tensor` as (N, …): as it is when dim 0 holds the samples, (N, T, …) when it holds
    N·T rows of a flattened sequence; None when neither."""
    rows = rows_per_sample(tensor, n_samples)
    if rows is None:
        return None
    return tensor if rows == 1 else tensor.reshape(n_samples, rows, *tensor.shape[1:])


def call_model(model: torch.nn.Module, inputs: Any) -> Any:
    """A tensor is passed as one argument, a tuple/list as positional arguments, a mapping
    as keyword arguments — the three ways models are called in practice — and
    CallArguments as both."""
    if isinstance(inputs, CallArguments):
        return model(*inputs.args, **inputs.kwargs)
    if isinstance(inputs, Mapping):
        return model(**inputs)
    if isinstance(inputs, (tuple, list)) and not hasattr(inputs, "_fields"):
        return model(*inputs)
    return model(inputs)


def primary_output(outputs: Any) -> torch.Tensor | None:
    """The tensor that holds the predictions: the output itself, the first tensor of a
    tuple (an LSTM returns `(output, (h, c))`), `logits` of a dict or the first value."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, Mapping):
        if isinstance(outputs.get("logits"), torch.Tensor):
            return outputs["logits"]
        # A returned loss is not a prediction (transformers' ModelOutput puts it first).
        return next((t for k, v in outputs.items() if k != "loss" for t in iter_tensors(v)), None)
    if isinstance(outputs, (tuple, list)):
        return next(iter_tensors(outputs), None)
    logits = getattr(outputs, "logits", None)  # model-output dataclasses (transformers)
    if isinstance(logits, torch.Tensor):
        return logits
    if _is_dataclass_instance(outputs):
        return next((t for item in dataclasses.fields(outputs) if item.name != "loss"
                     for t in iter_tensors(getattr(outputs, item.name, None))), None)
    return None


def rows_identical(value: Any, n_samples: int) -> list[list[int]]:
    """Groups of sample indices whose batch tensors are all exactly equal (duplicates).

    Rows are first grouped by a random projection computed where the data lives (cheap
    even for large images), then confirmed equal exactly, so a collision cannot merge
    different samples."""
    tensors = [t.detach() for t in iter_tensors(value, TARGET_KEYS) if t.dim() >= 1 and t.shape[0] == n_samples]
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
