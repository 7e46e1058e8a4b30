"""Per-model parameter bookkeeping: did each parameter get a gradient, a nonzero one, and
did an update change it? Produces the `parameter_status` measurement.

Cheap by construction: each question is asked only of the parameters that have not yet
answered "yes". In a healthy model every set empties after the first update, so the
steady-state cost is a few empty loops. Only parameters that stay suspicious (a detached
branch, a parameter missing from the optimizer) are looked at again, and only on the
first updates and then every `every`-th one.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

FIRST_CHECKED_UPDATES = 3
FINGERPRINT_ELEMENTS = 4096


def has_nonzero(grad: torch.Tensor) -> bool:
    """Any nonzero gradient value (sparse gradients, from sparse embeddings, by their values)."""
    if grad.is_sparse:
        return bool(grad.coalesce().values().ne(0).any())
    return bool(grad.detach().ne(0).any())


def fingerprint(param: torch.Tensor) -> torch.Tensor:
    """A copy of the whole parameter, or of an evenly strided sample of a large one."""
    flat = param.detach().reshape(-1)
    if flat.numel() > FINGERPRINT_ELEMENTS:
        flat = flat[:: flat.numel() // FINGERPRINT_ELEMENTS][:FINGERPRINT_ELEMENTS]
    return flat.clone()


class ParameterTracker:
    def __init__(self, model: nn.Module, label: str) -> None:
        self.label = label
        named = list(model.named_parameters())
        self.names = [name for name, _ in named]
        self.params = [param for _, param in named]
        self.index_by_id = {id(param): index for index, param in enumerate(self.params)}
        self.got_grad: set[int] = set()
        self.nonzero_grad: set[int] = set()
        self.zero_checked: set[int] = set()
        self.changed: set[int] = set()
        self.backwards_seen = 0
        self.updates_seen = 0
        self._versions: dict[int, int] = {}
        self._prints: dict[int, torch.Tensor] = {}

    def _trainable(self) -> list[int]:
        return [i for i, p in enumerate(self.params) if p.requires_grad]

    def _due(self, counter: int, every: int) -> bool:
        return counter < FIRST_CHECKED_UPDATES or counter % max(every, 1) == 0

    def after_backward(self, every: int) -> None:
        """Note which parameters hold a gradient now (only those not seen with one yet)."""
        self.backwards_seen += 1
        if len(self.got_grad) < len(self.params):
            for i, p in enumerate(self.params):
                if i not in self.got_grad and p.grad is not None:
                    self.got_grad.add(i)

    def grads_final(self, every: int) -> None:
        """Before an update: which gradients are nonzero (only those never seen nonzero)."""
        if len(self.nonzero_grad) == len(self.got_grad) or not self._due(self.updates_seen, every):
            return
        for i in self.got_grad - self.nonzero_grad:
            grad = self.params[i].grad
            if grad is None:
                continue
            self.zero_checked.add(i)
            if has_nonzero(grad):
                self.nonzero_grad.add(i)

    def before_update(self, every: int) -> None:
        """Remember versions (and values, for parameters never seen changed) before an update."""
        self._versions.clear()
        self._prints.clear()
        if len(self.changed) == len(self.params) or not self._due(self.updates_seen, every):
            return
        pending = [i for i in self._trainable() if i not in self.changed]
        for i in pending:
            self._versions[i] = self.params[i]._version
            self._prints[i] = fingerprint(self.params[i])

    def after_update(self) -> None:
        """An update completed: which remembered parameters changed."""
        self.updates_seen += 1
        for i, version in self._versions.items():
            param = self.params[i]
            # Optimizers update in place and bump the version; `p.data.add_(...)` does not,
            # so an unchanged version is confirmed by comparing values.
            if param._version != version or not torch.equal(fingerprint(param), self._prints[i]):
                self.changed.add(i)
        self._versions.clear()
        self._prints.clear()

    def status(self, optimizer_param_ids: set[int] | None) -> list[dict[str, Any]]:
        rows = []
        for i, (name, param) in enumerate(zip(self.names, self.params)):
            rows.append({
                "name": name,
                "shape": list(param.shape),
                "numel": int(param.numel()),
                "trainable": bool(param.requires_grad),
                "in_optimizer": None if optimizer_param_ids is None else id(param) in optimizer_param_ids,
                "got_grad": i in self.got_grad,
                "grad_all_zero": i in self.zero_checked and i not in self.nonzero_grad,
                "changed": None if self.updates_seen == 0 else i in self.changed,
            })
        return rows
