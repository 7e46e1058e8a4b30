"""Short training runs on copies, with the user's optimizer class and param groups, at a
learning rate (or a per-step schedule of them) set on every group by its own factor.

Built on preflight's Workbench (deep copies, the user's optimizer re-created on the copy,
the closure protocol of LBFGS-like optimizers); `measured_on_copies` wraps a measurement
in preflight's snapshot, so everything the user's code could disturb is put back.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.api import _few_threads_help
from nndoctor.torch.preflight.snapshot import StateSnapshot
from nndoctor.torch.preflight.validation import PreflightOptions, check_loss_fn, check_loss_value, check_model
from nndoctor.torch.preflight.workbench import Workbench, seed_everything
from nndoctor.torch.tune.batches import TuningBatches

Schedule = Callable[[int], float]
# A run is scored at 80%, 90% and 100% of its budget.
SCORE_POINTS = (0.8, 0.9, 1.0)


# An early spike: within the first tenth of the budget the loss exceeds twice its start.
EARLY_SHARE, SPIKE_FACTOR = 0.1, 2.0


@dataclass
class RunOutcome:
    train_losses: list[float]
    held_out: float
    finite: bool
    # Of the batch orders this outcome summarises, how many spiked early (see `spiked`).
    spiked_orders: int = 0
    orders: int = 1


def spiked(losses: list[float], finite: bool, budget: int) -> bool:
    """The run's loss rose above SPIKE_FACTOR × its first value (or stopped being finite)
    within the first EARLY_SHARE of the budget."""
    early = losses[: max(2, int(EARLY_SHARE * budget) + 1)]
    return (not finite and len(losses) <= len(early)) or any(
        not math.isfinite(v) or v > SPIKE_FACTOR * losses[0] for v in early[1:])


class TuningTrainer:
    def __init__(self, model: Any, batches: TuningBatches, loss_fn: Any, optimizer: Any, caller: str) -> None:
        check_model(model)
        check_loss_fn(loss_fn)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise UsageError(f"{caller} expects the torch.optim.Optimizer you train with, got {type(optimizer).__name__}")
        self.batches = batches
        self.bench = Workbench(model, batches.first(), loss_fn, optimizer, PreflightOptions())
        probe = self.bench.user_optimizer(self.bench.fresh_model())
        if probe is None:
            raise UsageError(f"{caller}: the optimizer holds none of the model's parameters")
        lrs = [float(group["lr"]) for group in probe.param_groups]
        # Each group keeps its ratio to the first group's lr (a 10× smaller backbone lr stays 10× smaller).
        self.user_lr = lrs[0]
        self.factors = [lr / lrs[0] if lrs[0] > 0 else 1.0 for lr in lrs]
        self.optimizer_name = type(optimizer).__name__

    def fresh(self) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model = self.bench.fresh_model()
        model.train()
        return model, self.bench.user_optimizer(model)

    def set_lr(self, optimizer: torch.optim.Optimizer, lr: float) -> None:
        for group, factor in zip(optimizer.param_groups, self.factors):
            group["lr"] = lr * factor

    def order(self, seed: int, steps: int) -> list[int]:
        """Training batch indices for `steps` steps: shuffled epochs of the training batches."""
        generator = torch.Generator().manual_seed(seed)
        count = len(self.batches.train)
        indices: list[int] = []
        while len(indices) < steps:
            indices += torch.randperm(count, generator=generator).tolist()
        return indices[:steps]

    def train(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, schedule: Schedule, order: list[int],
              stop: Callable[[float], bool] | None = None,
              on_step: Callable[[int], None] | None = None) -> list[float]:
        """One update per entry of `order`; the loss before each update. Ends at a
        non-finite loss or when `stop(loss)` says so; `on_step(n)` after the n-th update."""
        losses: list[float] = []
        for step, index in enumerate(order):
            inputs, targets = self.batches.train[index]
            self.set_lr(optimizer, schedule(step))
            optimizer.zero_grad(set_to_none=True)
            with torch.enable_grad():
                loss = check_loss_value(self.bench.loss(model, inputs, targets))
                value = float(loss.detach())
                losses.append(value)
                if not math.isfinite(value) or (stop is not None and stop(value)):
                    break
                self.bench.step(model, optimizer, inputs, targets, loss)
            if on_step is not None:
                on_step(step + 1)
        optimizer.zero_grad(set_to_none=True)
        return losses

    def held_out_loss(self, model: torch.nn.Module) -> float:
        """Mean loss over the held-out batches, in eval mode, without gradients."""
        was_training = model.training
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for inputs, targets in self.batches.held_out:
                total += float(self.bench.loss(model, inputs, targets))
                count += 1
        model.train(was_training)
        return total / count

    def run(self, schedule: Schedule, order: list[int], seed: int) -> RunOutcome:
        """A fresh copy trained along `order`, scored on the held-out batches: the mean of
        the scores at SCORE_POINTS of the budget (one end point is noisier than the
        stretch of training that leads to it)."""
        seed_everything(seed)
        model, optimizer = self.fresh()
        checkpoints = {max(1, round(share * len(order))) for share in SCORE_POINTS}
        scores: list[float] = []

        def score(step: int) -> None:
            if step in checkpoints:
                scores.append(self.held_out_loss(model))

        losses = self.train(model, optimizer, schedule, order, on_step=score)
        finite = len(losses) == len(order) and all(math.isfinite(v) for v in losses + scores)
        held_out = float(sum(scores) / len(scores)) if finite and scores else math.inf
        return RunOutcome(losses, held_out, finite and math.isfinite(held_out))

    def initial_held_out(self, seed: int) -> float:
        seed_everything(seed)
        return self.held_out_loss(self.bench.fresh_model())


@contextmanager
def measured_on_copies(model: torch.nn.Module, optimizer: Any) -> Iterator[None]:
    """Snapshot everything (parameters, buffers, gradients, train/eval flags, optimizer
    state, RNG states) and restore it bit for bit afterwards; one thread for small CPU
    models. The batches need no snapshot: the measurements train on copies of them."""
    optimizer_ = optimizer if isinstance(optimizer, torch.optim.Optimizer) else None
    snapshot = StateSnapshot.capture(model, optimizer_)
    threads = torch.get_num_threads()
    if _few_threads_help(model, None):
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        snapshot.restore()
