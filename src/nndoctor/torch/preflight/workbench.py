"""The shared machinery of the experiments: fresh copies of the model, the user's optimizer
re-created on a copy, Adam 1e-3, seeding and a bounded training loop on one batch."""
from __future__ import annotations

import collections
import copy
import inspect
import math
import random
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from nndoctor.core.capability import MeasurementUnavailable
from nndoctor.torch.preflight.structures import call_model
from nndoctor.torch.preflight.validation import Batch, PreflightOptions

# 000 §1.1.3 and 003 §4.5.2: "a sensible default like Adam with lr 1e-3" is the reference
# optimizer; if it overfits a batch and the user's settings do not, the settings are at fault.
REFERENCE_LR = 1e-3


class ExperimentUnavailable(MeasurementUnavailable):
    """An experiment cannot run for a reason that is not a fault (the reason is shown)."""


def describe_optimizer(optimizer: torch.optim.Optimizer) -> str:
    group = optimizer.param_groups[0]
    lr = group.get("initial_lr", group.get("lr"))
    extras = [f"{key}={group[key]:g}" for key in ("momentum", "weight_decay")
              if isinstance(group.get(key), (int, float)) and group[key]]
    lr_text = f"lr={float(lr):g}" if lr is not None else "lr=?"
    return f"{type(optimizer).__name__}({', '.join([lr_text, *extras])})"


def disable_dropout(model: torch.nn.Module) -> None:
    """Switch dropout off on a copy (000 §1.1.2: randomness hides whether the model can
    memorise); train-mode behaviour such as BatchNorm's batch statistics is kept."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.dropout._DropoutNd):
            module.p = 0.0
        elif isinstance(module, (torch.nn.RNNBase, torch.nn.MultiheadAttention)):
            module.dropout = 0.0


def _constructor_defaults(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """`optimizer.defaults` restricted to what its constructor accepts (AdamW's defaults,
    for one, include a key its __init__ does not take)."""
    parameters = inspect.signature(type(optimizer).__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return dict(optimizer.defaults)
    return {key: value for key, value in optimizer.defaults.items() if key in parameters}


def _plain(value: Any) -> Any:
    return float(value) if isinstance(value, torch.Tensor) else value


def needs_closure(optimizer: torch.optim.Optimizer) -> bool:
    """step() declares `closure` without a default: LBFGS, and custom optimizers that
    re-evaluate the loss (line search, sharpness-aware minimisation)."""
    try:
        parameter = inspect.signature(optimizer.step).parameters.get("closure")
    except (TypeError, ValueError):
        return isinstance(optimizer, torch.optim.LBFGS)
    return isinstance(optimizer, torch.optim.LBFGS) or (
        parameter is not None and parameter.default is inspect.Parameter.empty)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass
class Workbench:
    model: torch.nn.Module
    batch: Batch
    loss_fn: Any
    optimizer: torch.optim.Optimizer | None
    options: PreflightOptions
    results: dict[str, Any] = field(default_factory=dict)  # shared between experiments
    _copy_error: str | None = None

    def fresh_model(self) -> torch.nn.Module:
        """A deep copy of the untouched model (same device, same train/eval flags)."""
        if self._copy_error is None:
            try:
                return copy.deepcopy(self.model)
            except Exception as error:  # noqa: BLE001 — any failure means "cannot copy"
                self._copy_error = f"{type(error).__name__}: {error}"
        raise ExperimentUnavailable(
            f"the model cannot be deep-copied ({self._copy_error}), so preflight cannot train a copy"
        )

    def trainable(self) -> bool:
        return any(p.requires_grad for p in self.model.parameters())

    def user_optimizer(self, model_copy: torch.nn.Module) -> torch.optim.Optimizer | None:
        """The user's optimizer class and per-group settings on the copy's parameters
        (mapped by position), without its state; None when it holds none of the model's
        parameters."""
        if self.optimizer is None:
            return None
        position = {id(p): i for i, p in enumerate(self.model.parameters())}
        copy_parameters = list(model_copy.parameters())
        groups = []
        for group in self.optimizer.param_groups:
            params = [copy_parameters[position[id(p)]] for p in group["params"] if id(p) in position]
            if not params:
                continue
            settings = {key: value for key, value in group.items() if key != "params"}
            # Schedulers record the configured rate as initial_lr; a warm-up starts the
            # current lr at 0, which is not the setting the user means to train with.
            if "initial_lr" in settings:
                settings["lr"] = settings["initial_lr"]
            groups.append({"params": params, **settings})
        if not groups:
            return None
        try:
            return type(self.optimizer)(groups, **_constructor_defaults(self.optimizer))
        except TypeError:
            # A custom optimizer whose constructor needs more than its defaults: copy the
            # object itself, with the copy's parameters in place of the originals.
            return self._copied_optimizer(copy_parameters, groups)

    def _copied_optimizer(self, copy_parameters: list[torch.nn.Parameter], groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
        # Not deepcopy: Optimizer.__getstate__ keeps only defaults, state and param_groups,
        # which would drop the custom attributes such an optimizer's step() reads.
        optimizer = object.__new__(type(self.optimizer))
        optimizer.__dict__.update(self.optimizer.__dict__)
        optimizer.state = collections.defaultdict(dict)
        optimizer.param_groups = groups
        return optimizer

    def step(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, inputs: Any, targets: Any,
             loss: torch.Tensor | None = None) -> None:
        """The one way preflight updates a copy. `loss` is a loss just computed on the current
        parameters whose backward has not run yet, or None when the gradients are current.
        An optimizer whose step() requires a closure (LBFGS, line-search and sharpness-aware
        optimizers) gets `closure`, which re-evaluates the loss as often as it needs; the
        others are stepped after the backward, as in an ordinary training loop (passing them
        the closure too would run every forward and backward twice)."""
        if needs_closure(optimizer):
            optimizer.step(self.closure(model, optimizer, inputs, targets))
            return
        if loss is not None:
            loss.backward()
        optimizer.step()

    def closure(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, inputs: Any, targets: Any) -> Callable[[], torch.Tensor]:
        """zero_grad, forward, loss, backward; returns the loss (what LBFGS.step expects)."""
        def evaluate() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                value = self.loss(model, inputs, targets)
                value.backward()
            return value
        return evaluate

    def user_matches_reference(self) -> bool:
        """The user's optimizer is Adam 1e-3 with default settings: one run serves both."""
        if type(self.optimizer) is not torch.optim.Adam:
            return False
        reference = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=REFERENCE_LR).param_groups[0]
        keys = [k for k in reference if k != "params"]
        return all(
            all(_plain(group.get("initial_lr", group[k]) if k == "lr" else group.get(k)) == _plain(reference[k]) for k in keys)
            for group in self.optimizer.param_groups
        )

    def adam(self, model_copy: torch.nn.Module) -> torch.optim.Optimizer:
        return torch.optim.Adam([p for p in model_copy.parameters() if p.requires_grad], lr=REFERENCE_LR)

    def loss(self, model: torch.nn.Module, inputs: Any, targets: Any) -> torch.Tensor:
        return self.loss_fn(call_model(model, inputs), targets)

    def train(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        inputs: Any,
        targets: Any,
        steps: int,
        *,
        floor: float | None = None,
        stop_fraction: float = 0.0,
    ) -> list[float]:
        """Up to `steps` updates on one batch; returns the loss before each update and
        after the last one. Stops early at a non-finite loss, or once the loss is within
        `stop_fraction` of its initial distance to `floor`."""
        losses: list[float] = []
        stop_at = None
        for step in range(steps + 1):
            optimizer.zero_grad(set_to_none=True)
            loss = self.loss(model, inputs, targets)
            value = float(loss.detach())
            losses.append(value)
            if step == 0 and floor is not None and stop_fraction > 0 and value > floor:
                stop_at = floor + stop_fraction * (value - floor)
            if step == steps or not math.isfinite(value) or (stop_at is not None and value <= stop_at):
                break
            self.step(model, optimizer, inputs, targets, loss)
        optimizer.zero_grad(set_to_none=True)
        return losses
