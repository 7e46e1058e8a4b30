"""`nndoctor tune … train.py`: take what a tuning measurement needs from an unchanged
training script — the model as it is before its first update, the optimizer (its class
and param groups, re-created on that copy), the loss call and the first training batches —
and end the script once enough batches are in.

It plugs into the watch session the way `run --preflight` does (the session hands the
request every training backward and optimizer step). Batches are collected until
`max_batches`, or until the loader wraps around into a second epoch (a batch whose
samples were mostly seen before), so the held-out batches are samples the copies never
trained on. The script is then ended with exit code 0 (SystemExit from inside its
`optimizer.step()`); the tuning itself runs after the session is uninstalled.
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.torch.preflight.structures import iter_tensors, map_tensors
from nndoctor.torch.preflight.validation import Batch, PreflightOptions
from nndoctor.torch.preflight.workbench import Workbench
from nndoctor.torch.watch.preflight_hook import _batch_inputs, replay_loss

# Closure optimizers (LBFGS) run their first backward inside step(): give them a few steps.
WAIT_STEPS = 3
# A batch is from the next epoch when more than half of its samples were seen before.
SEEN_SHARE = 0.5


class EnoughBatches(SystemExit):
    """Ends the script (exit code 0) once the measurement has what it needs."""

    def __init__(self) -> None:
        super().__init__(0)


def _sample_keys(inputs: Any) -> list[float]:
    """One number per sample: a fixed random projection of the first input tensor's row."""
    tensor = next(iter_tensors(inputs)).detach()
    rows = tensor.reshape(tensor.shape[0], -1).to(torch.float64).cpu()
    weights = torch.randn(rows.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return (rows @ weights).tolist()


class ScriptCapture:
    def __init__(self, max_batches: int) -> None:
        self.max_batches = max_batches
        self.model: torch.nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.loss_fn: Any = None
        self.batches: list[tuple[Any, Any]] = []
        self.epoch_batches: int | None = None
        self.message: str | None = None
        self._pending: tuple[Any, Any] | None = None
        self._steps = 0
        self._seen: set[float] = set()

    def on_backward(self, session: Any, loss: torch.Tensor) -> None:
        call = session._last_loss_call
        watched = next((w for w in session.models.values() if w.last_inputs is not None), None)
        if call is None or watched is None:
            return
        if self.loss_fn is None:
            self.loss_fn = replay_loss(call["function"], dict(call["kwargs"]), list(call["prediction"].shape))
        clone = lambda value: map_tensors(value, lambda t: t.detach().clone())  # noqa: E731
        self._pending = (clone(_batch_inputs(watched.last_inputs)), clone(call["target"]))
        watched.last_inputs = None

    def on_step(self, session: Any, optimizer: torch.optim.Optimizer, info: Any) -> None:
        self._steps += 1
        if self.model is None:
            watched = next((w for w in session.models.values() if id(optimizer) in w.optimizer_ids), None)
            watched = watched or next(iter(session.models.values()), None)
            if watched is None or self._pending is None:
                if self._steps >= WAIT_STEPS:
                    self.message = ("the first training step was not recognised (no model forward "
                                    "followed by a torch loss function before optimizer.step())")
                    raise EnoughBatches()
                return
            self._take_model(watched.module, optimizer)
        if self._pending is not None:
            self._add(self._pending)
            self._pending = None
        if len(self.batches) >= self.max_batches or self.epoch_batches is not None:
            raise EnoughBatches()

    def _take_model(self, module: torch.nn.Module, optimizer: torch.optim.Optimizer) -> None:
        """A copy of the model before its first update, and the user's optimizer class and
        groups re-created on the copy's parameters (preflight's Workbench does the mapping)."""
        inputs, targets = self._pending
        n = int(next(iter_tensors(inputs)).shape[0])
        bench = Workbench(module, Batch(inputs, targets, n), None, optimizer, PreflightOptions())
        self.model = bench.fresh_model()
        self.optimizer = bench.user_optimizer(self.model)

    def _add(self, batch: tuple[Any, Any]) -> None:
        keys = _sample_keys(batch[0])
        if self.batches and sum(k in self._seen for k in keys) > SEEN_SHARE * len(keys):
            self.epoch_batches = len(self.batches)  # the loader started its second epoch
            return
        self._seen.update(keys)
        self.batches.append(batch)
