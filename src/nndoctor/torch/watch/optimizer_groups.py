"""What each optimizer param group does at every step: its learning rate (read from the
group at each `optimizer.step()`, so every scheduler is seen, whatever steps it), its
weight decay, and, on sampled steps, the size of its gradients and weights.

Produces the `optimizer_groups` measurement (lr-schedule-collapsed, weight-decay-high) and
tells the parameter tracker which groups stepped at lr = 0 (a warm-up's first step is no
evidence that a parameter is stuck).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from nndoctor.live.series import BoundedSeries, small_series

SHOWN_PARAMS = 8
# Optimizers that divide the step by a running gradient scale: the size of the gradient
# (hence an un-averaged accumulation) hardly changes their step.
ADAPTIVE_OPTIMIZERS = {"Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
                       "SparseAdam", "Adafactor", "LAMB", "Lamb", "Lion", "AdaBelief"}
DECOUPLED_OPTIMIZERS = {"AdamW", "Lion", "Adafactor"}


def optimizer_kind(optimizer: Any) -> str:
    """The class name of the optimizer that does the arithmetic (accelerate and Lightning
    wrap the real one in `.optimizer`)."""
    inner = getattr(optimizer, "optimizer", None)
    if isinstance(inner, torch.optim.Optimizer) and inner is not optimizer:
        return type(inner).__name__
    return type(optimizer).__name__


def _number(value: Any) -> float:
    if isinstance(value, torch.Tensor):
        return float(value.detach().reshape(-1)[0])  # capturable optimizers keep lr on device
    return float(value)


class GroupFacts:
    """One param group of one optimizer, followed over the run."""

    def __init__(self, optimizer_name: str, index: int, group: dict[str, Any], names: list[str]) -> None:
        self.optimizer_name = optimizer_name
        self.index = index
        self.params = list(group["params"])
        self.names = names
        self.weight_decay = float(group.get("weight_decay", 0.0) or 0.0)
        self.decoupled = optimizer_name in DECOUPLED_OPTIMIZERS or bool(group.get("decoupled_weight_decay"))
        momentum = group.get("momentum")
        if momentum is None and group.get("betas"):
            momentum = group["betas"][0]
        self.momentum = None if momentum is None else _number(momentum)
        self.steps = 0
        self.zero_lr_steps = 0
        self.lr_first: float | None = None
        self.lr_last: float | None = None
        self.lr_series = BoundedSeries(head_size=32, recent_size=64, max_buckets=64)
        self.grad_norms = small_series()
        self.weight_norms = small_series()
        self._param_ids: set[int] | None = None

    @property
    def param_ids(self) -> set[int]:
        if self._param_ids is None:
            self._param_ids = {id(p) for p in self.params}
        return self._param_ids

    def observe(self, step: int, group: dict[str, Any]) -> float:
        lr = group.get("lr", 0.0)
        lr = lr if type(lr) is float else _number(lr)
        self.steps += 1
        if lr == 0.0:
            self.zero_lr_steps += 1
        if self.lr_first is None:
            self.lr_first = lr
        self.lr_last = lr
        if math.isfinite(lr):
            self.lr_series.add(step, lr)
        return lr

    def sample_norms(self, step: int) -> tuple[list[torch.Tensor], Any] | None:
        """Device norms of this group's gradients and weights, and how to record them once
        read (the caller reads every group's norms in one host sync)."""
        params = [p for p in self.params if p.grad is not None and not p.grad.is_sparse]
        if not params:
            return None
        grad = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.grad for p in params])))
        weight = torch.linalg.vector_norm(torch.stack(torch._foreach_norm([p.detach() for p in params])))

        def record(values: list[float]) -> None:
            if all(math.isfinite(v) for v in values):
                self.grad_norms.add(step, values[0])
                self.weight_norms.add(step, values[1])
        return [grad.float(), weight.float()], record

    def as_measurement(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer_name, "group": self.index,
            "params": self.names[:SHOWN_PARAMS], "param_count": len(self.params),
            "numel": int(sum(p.numel() for p in self.params)),
            "weight_decay": self.weight_decay, "decoupled_weight_decay": self.decoupled,
            "adaptive": self.optimizer_name in ADAPTIVE_OPTIMIZERS, "momentum": self.momentum,
            "steps": self.steps, "zero_lr_steps": self.zero_lr_steps,
            "lr_series": self.lr_series.to_dict() if self.lr_series.count else None,
            "lr_first": self.lr_first, "lr_last": self.lr_last,
            "grad_norm_series": self.grad_norms.to_dict() if self.grad_norms.count else None,
            "weight_norm_series": self.weight_norms.to_dict() if self.weight_norms.count else None,
        }


class OptimizerGroups:
    """The groups of one optimizer; rebuilt when its param groups change."""

    def __init__(self, optimizer: Any, names: dict[int, str]) -> None:
        self.kind = optimizer_kind(optimizer)
        self.adaptive = self.kind in ADAPTIVE_OPTIMIZERS
        self.groups = [
            GroupFacts(self.kind, index, group, [names.get(id(p), "parameter") for p in group["params"]])
            for index, group in enumerate(optimizer.param_groups)
        ]
        self.zero_lr_ids: set[int] = set()
        self._lr_by_id: dict[int, float] | None = None
        self._lrs: list[float] = []

    def rename(self, names: dict[int, str]) -> None:
        """Name the parameters again once their model is known."""
        for facts in self.groups:
            facts.names = [names.get(id(p), "parameter") for p in facts.params]

    def observe(self, step: int, optimizer: Any) -> None:
        """Read every group's lr at this step (a few dictionary reads)."""
        groups = optimizer.param_groups
        lrs = [facts.observe(step, group) for facts, group in zip(self.groups, groups)]
        self._lrs = lrs
        self._lr_by_id = None
        if 0.0 in lrs:
            self.zero_lr_ids = set().union(*(f.param_ids for f, lr in zip(self.groups, lrs) if lr == 0.0))
        elif self.zero_lr_ids:
            self.zero_lr_ids = set()

    def lr_of(self, param_id: int) -> float | None:
        """The lr of the group holding this parameter at the last observed step."""
        if self._lr_by_id is None:
            self._lr_by_id = {}
            for facts, lr in zip(self.groups, self._lrs):
                for pid in facts.param_ids:
                    self._lr_by_id[pid] = lr
        return self._lr_by_id.get(param_id)

    def sample_norms(self, step: int, batch: list[tuple[list[torch.Tensor], Any]]) -> None:
        for facts in self.groups:
            if facts.weight_decay > 0:  # only weight-decay-high reads the group norms
                sampled = facts.sample_norms(step)
                if sampled is not None:
                    batch.append(sampled)


def read_norms(batch: list[tuple[list[torch.Tensor], Any]]) -> None:
    """One host sync for every sampled group norm."""
    if not batch:
        return
    values = torch.stack([t for tensors, _ in batch for t in tensors]).tolist()
    start = 0
    for tensors, record in batch:
        record(values[start:start + len(tensors)])
        start += len(tensors)
