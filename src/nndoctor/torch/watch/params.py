"""Per-model parameter bookkeeping: did each parameter get a gradient, a nonzero one, and
did an update change it? Produces the `parameter_status` measurement.

Cheap by construction: each question is asked only of the parameters that have not yet
answered "yes". In a healthy model every set empties after the first update, so the
steady-state cost is a few empty loops. Only parameters that stay suspicious (a detached
branch, a parameter missing from the optimizer) are looked at again, and only on the
first updates and then every `every`-th one.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

FIRST_CHECKED_UPDATES = 3
FINGERPRINT_ELEMENTS = 4096
WITNESSES = 2
CLEARING_PROBES = 8  # parameters watched for "gradient present after backward, gone at the step"


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
        # Evidence about parameters that have not changed yet (empty in a healthy run
        # after the first update): counts per parameter index.
        self.checked: dict[int, int] = {}
        self.zero_lr: dict[int, int] = {}
        self.none_at_step: dict[int, int] = {}
        self.zero_checks: dict[int, int] = {}
        self.unchanged_detail: dict[int, dict[str, Any]] = {}
        # Compared across an update and not changed (empty in a healthy run).
        self.suspects: set[int] = set()
        self._after_backward_max: dict[int, float] = {}
        self._versions: dict[int, int] = {}
        self._prints: dict[int, torch.Tensor] = {}
        self._lr_of: Callable[[int], float | None] | None = None
        self._witnesses: list[tuple[torch.Tensor, int]] = []
        # Set only after an update that touched nothing because its gradients were None:
        # which of these parameters hold a gradient after the next backward (see after_update).
        self._probes: list[int] = []
        self._probes_with_grad: set[int] = set()
        self._none_at_update: set[int] = set()

    @property
    def probing(self) -> bool:
        """Gradients are being watched for disappearing between backward and step."""
        return bool(self._probes)

    def _trainable(self) -> list[int]:
        return [i for i, p in enumerate(self.params) if p.requires_grad]

    def _due(self, counter: int, every: int) -> bool:
        return counter < FIRST_CHECKED_UPDATES or counter % max(every, 1) == 0

    def after_backward(self, every: int) -> None:
        """Note which parameters hold a gradient now (only those not seen with one yet)."""
        self.backwards_seen += 1
        for i in self._probes:
            if self.params[i].grad is not None:
                self._probes_with_grad.add(i)
        if len(self.got_grad) < len(self.params):
            for i, p in enumerate(self.params):
                if i not in self.got_grad and p.grad is not None:
                    self.got_grad.add(i)

    def note_backward_grads(self) -> None:
        """The gradient size right after a backward, for parameters that stayed unchanged
        (a much smaller one at the step means something shrank it in between: clipping)."""
        for i in self.suspects:
            grad = self.params[i].grad
            if grad is not None and not grad.is_sparse:
                self._after_backward_max[i] = float(grad.detach().abs().max())

    def grads_final(self, every: int) -> None:
        """Before an update: which gradients are nonzero (only those never seen nonzero),
        and which are None although a backward produced one (only those never seen changed)."""
        if not self._due(self.updates_seen, every):
            return
        if len(self.nonzero_grad) == len(self.got_grad) and len(self.changed) >= len(self.params):
            return  # the healthy steady state
        for i in self.got_grad - (self.nonzero_grad & self.changed):
            grad = self.params[i].grad
            if grad is None:
                self.none_at_step[i] = self.none_at_step.get(i, 0) + 1
                continue
            if i in self.nonzero_grad:
                continue
            self.zero_checked.add(i)
            if has_nonzero(grad):
                self.nonzero_grad.add(i)
            else:
                self.zero_checks[i] = self.zero_checks.get(i, 0) + 1

    def before_update(self, every: int, zero_lr_ids: set[int] | None = None,
                      lr_of: Callable[[int], float | None] | None = None) -> None:
        """Remember versions (and values, for parameters never seen changed) before an
        update. Parameters whose group steps at lr = 0 are not compared: no change is
        expected of them (a warm-up's first step)."""
        self._versions.clear()
        self._prints.clear()
        if len(self.changed) == len(self.params) or not self._due(self.updates_seen, every):
            return
        for i in self._trainable():
            if i in self.changed:
                continue
            param = self.params[i]
            if zero_lr_ids and id(param) in zero_lr_ids:
                self.zero_lr[i] = self.zero_lr.get(i, 0) + 1
                continue
            self._versions[i] = param._version
            self._prints[i] = fingerprint(param)
        self._lr_of = lr_of
        self._none_at_update = {i for i in self._versions if self.params[i].grad is None}
        # Parameters already seen changing witness whether this update touched anything.
        self._witnesses = [(self.params[i], self.params[i]._version) for i in list(self.changed)[:WITNESSES]]

    def _describe_unchanged(self, i: int) -> None:
        """Keep the numbers that explain why this parameter did not change (its gradient
        as the update used it, its size, its group's lr)."""
        lr_of = self._lr_of
        param, grad = self.params[i], self.params[i].grad
        dense = grad is not None and not grad.is_sparse
        self.unchanged_detail[i] = {
            "grad_abs_max": float(grad.detach().abs().max()) if dense and grad.numel() else None,
            "grad_abs_max_after_backward": self._after_backward_max.get(i),
            "value_abs_max": float(param.detach().abs().max()) if param.numel() else None,
            "lr": lr_of(id(param)) if lr_of is not None else None,
        }

    def after_update(self) -> None:
        """An update completed: which remembered parameters changed. An update that touched
        none of them (a step the framework skipped: GradScaler's inf/NaN skip, accelerate's
        accumulation no-op, every gradient None) is not counted as a comparison."""
        self.updates_seen += 1
        if not self._versions:
            return
        touched = ([i for i, version in self._versions.items() if self.params[i]._version != version]
                   or [p for p, version in self._witnesses if p._version != version])
        for i in self._versions:
            # Optimizers update in place and bump the version; `p.data.add_(...)` does not,
            # so an unchanged version is confirmed by comparing values.
            if not torch.equal(fingerprint(self.params[i]), self._prints[i]):
                self.changed.add(i)
        # Nothing touched is a skipped step (no evidence), unless the gradients a backward
        # had produced since the last update were gone at this one: cleared in between.
        cleared = self._probes_with_grad & self._none_at_update
        if not touched and not cleared and self._none_at_update and not self._probes:
            self._probes = list(self._none_at_update)[:CLEARING_PROBES]
        self._probes_with_grad = set()
        if touched or cleared or any(i in self.changed for i in self._versions):
            for i in self._versions:
                self.checked[i] = self.checked.get(i, 0) + 1
                if i in self.changed:
                    self.suspects.discard(i)
                else:
                    self.suspects.add(i)
                    self._describe_unchanged(i)
        self._versions.clear()
        self._prints.clear()

    def status(self, optimizer_param_ids: set[int] | None) -> list[dict[str, Any]]:
        rows = []
        for i, (name, param) in enumerate(zip(self.names, self.params)):
            checked = self.checked.get(i, 0)
            unchanged = checked > 0 and i not in self.changed
            detail = self.unchanged_detail.get(i, {}) if unchanged else {}
            rows.append({
                "name": name,
                "shape": list(param.shape),
                "numel": int(param.numel()),
                "trainable": bool(param.requires_grad),
                "in_optimizer": None if optimizer_param_ids is None else id(param) in optimizer_param_ids,
                "got_grad": i in self.got_grad,
                "grad_all_zero": i in self.zero_checked and i not in self.nonzero_grad,
                "changed": (i in self.changed) if (checked or i in self.changed) else None,
                "checked_updates": checked,
                "zero_lr_updates": self.zero_lr.get(i, 0),
                "grad_none_at_step": self.none_at_step.get(i, 0),
                "zero_checks": self.zero_checks.get(i, 0),
                "nonzero_checks": int(i in self.nonzero_grad),
                "grad_abs_max": detail.get("grad_abs_max"),
                "grad_abs_max_after_backward": detail.get("grad_abs_max_after_backward"),
                "value_abs_max": detail.get("value_abs_max"),
                "lr": detail.get("lr"),
            })
        return rows
