"""The batches a tuning measurement trains and scores on: taken from a DataLoader or a
list of `(inputs, targets)` pairs, checked, copied (so the loader's reused buffers and
in-place edits cannot change them) and split into training and held-out batches."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.structures import iter_tensors, map_tensors
from nndoctor.torch.preflight.validation import Batch

# A fifth of the batches are held out to score the sweep (at least one, at most 8: the
# score is a mean over samples, a few batches of them are enough to rank learning rates).
HELD_OUT_SHARE = 0.2
MAX_HELD_OUT = 8


@dataclass
class TuningBatches:
    train: list[tuple[Any, Any]]
    held_out: list[tuple[Any, Any]]
    batch_size: int
    # Batches per epoch of the loader, when it has a length (for the warm-up length).
    epoch_batches: int | None

    def first(self) -> Batch:
        inputs, targets = self.train[0]
        return Batch(inputs, targets, self.batch_size)


def _pair(item: Any, index: int, caller: str) -> tuple[Any, Any]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        kind = f"a {type(item).__name__} of length {len(item)}" if isinstance(item, (tuple, list)) else type(item).__name__
        raise UsageError(f"{caller} expects batches as (inputs, targets) pairs; batch #{index} is {kind}")
    inputs, targets = item
    first = next(iter_tensors(inputs), None)
    if first is None or first.dim() == 0:
        raise UsageError(f"{caller}: batch #{index} inputs must be a tensor (or a tuple/dict of tensors) "
                         "with the samples on dim 0")
    if next(iter_tensors(targets), None) is None:
        raise UsageError(f"{caller}: batch #{index} targets must be a tensor (or a tuple/dict of tensors)")
    return map_tensors(inputs, lambda t: t.detach().clone()), map_tensors(targets, lambda t: t.detach().clone())


def collect_batches(source: Any, *, max_batches: int, caller: str, held_out: int | None = None) -> TuningBatches:
    """Up to `max_batches` pairs from `source` (a DataLoader, any iterable of pairs, or
    one pair), the last fifth held out."""
    if isinstance(source, (tuple, list)) and len(source) == 2 and isinstance(source[0], torch.Tensor) \
            and isinstance(source[1], torch.Tensor) and source[0].dim() >= 1 and source[1].dim() >= 1 \
            and source[0].shape[0] == source[1].shape[0]:
        raise UsageError(f"{caller} needs several batches (some are held out to score the sweep), "
                         "got a single (inputs, targets) pair; pass a DataLoader or a list of pairs")
    if not isinstance(source, Iterable):
        raise UsageError(f"{caller} expects a DataLoader or a list of (inputs, targets) batches, "
                         f"got {type(source).__name__}")
    pairs = []
    for index, item in enumerate(source):
        if index >= max_batches:
            break
        pairs.append(_pair(item, index, caller))
    count = held_out if held_out is not None else min(MAX_HELD_OUT, max(1, round(HELD_OUT_SHARE * len(pairs))))
    if len(pairs) < count + 1:
        raise UsageError(f"{caller} needs at least {count + 1} batches ({count} held out), got {len(pairs)}")
    try:
        epoch = len(source)
    except TypeError:
        epoch = None
    size = int(next(iter_tensors(pairs[0][0])).shape[0])
    split = len(pairs) - count
    return TuningBatches(train=pairs[:split], held_out=pairs[split:], batch_size=size, epoch_batches=epoch)
