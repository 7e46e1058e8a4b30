"""What the session knows about one watched model and one optimizer."""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from nndoctor.torch.watch.eval_mode import mode_dependent_modules
from nndoctor.torch.watch.params import ParameterTracker, fingerprint

SENTINEL_PARAMETERS = 2


def named_root(module: nn.Module) -> nn.Module:
    """The module whose names a user knows: `torch.compile(model)` wraps `model` in an
    OptimizedModule whose parameter names all start with `_orig_mod.`; report `model`'s own
    names. (Hooks stay on the wrapper: the wrapper's call is what the script runs.)"""
    inner = getattr(module, "_orig_mod", None)
    return inner if isinstance(inner, nn.Module) else module
# Records kept per event list (stale-gradient updates, evaluation passes); counts go on.
MAX_EVENTS = 20


@dataclass
class WatchedModel:
    """A root nn.Module whose parameters receive gradients from a training loss."""

    module: nn.Module
    label: str
    tracker: ParameterTracker
    monitor: Any = None
    optimizer_ids: set[int] = field(default_factory=set)
    stale_keys: list[int] = field(default_factory=list)
    forwarded: bool = False
    last_inputs: tuple[tuple[Any, ...], dict[str, Any]] | None = None
    hook_handle: Any = None
    # The order of forward, update and backward (step-before-backward), and the mode the
    # training forwards ran in (train-mode-missing).
    forward_at: int | None = None
    forward_in_eval: bool = False
    updated_at: int | None = None
    training_steps: int = 0
    eval_mode_steps: int = 0
    eval_mode_first_step: int | None = None
    eval_mode_streak: int = 0
    eval_mode_longest: int = 0
    eval_mode_modules: list[str] = field(default_factory=list)
    manual_updates: int = 0
    inputs_described: int = 0
    _mode_modules: list[tuple[str, nn.Module]] | None = None
    _sentinels: list[tuple[torch.Tensor, int, torch.Tensor]] = field(default_factory=list)

    @property
    def mode_modules(self) -> list[tuple[str, nn.Module]]:
        if self._mode_modules is None:
            self._mode_modules = mode_dependent_modules(named_root(self.module))
        return self._mode_modules

    @property
    def manual(self) -> bool:
        """No optimizer updates this model: updates (if any) are written by hand."""
        return not self.optimizer_ids

    def snapshot_sentinels(self) -> None:
        """Remember a couple of small parameters that got gradients, to notice a manual
        update (`p.data.add_(...)` changes values without bumping `_version`)."""
        tracker = self.tracker
        candidates = [i for i in sorted(tracker.got_grad) if tracker.params[i].requires_grad]
        candidates.sort(key=lambda i: (tracker.params[i].numel() > 4096, -i))
        self._sentinels = [
            (tracker.params[i], tracker.params[i]._version, fingerprint(tracker.params[i]))
            for i in candidates[:SENTINEL_PARAMETERS]
        ]

    def sentinels_changed(self) -> bool:
        for param, version, values in self._sentinels:
            if param._version != version or not torch.equal(fingerprint(param), values):
                return True
        return False

    def clear_sentinels(self) -> None:
        self._sentinels = []


@dataclass
class OptimizerInfo:
    ref: Any  # weakref to the optimizer
    name: str
    param_ids: set[int]
    param_count: int
    models: list[WatchedModel]
    stale_keys: list[int]
    models_version: int
    groups: Any = None  # OptimizerGroups
    steps: int = 0
    last_step: int = -1

    @staticmethod
    def count_params(optimizer: torch.optim.Optimizer) -> int:
        return sum(len(group["params"]) for group in optimizer.param_groups)

    @staticmethod
    def make_ref(optimizer: torch.optim.Optimizer) -> Any:
        return weakref.ref(optimizer)
