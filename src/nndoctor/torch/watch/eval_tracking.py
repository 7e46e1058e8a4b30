"""Seeing evaluation passes: forwards of a watched model with gradients disabled.

One record per pass says which dropout/normalization layers were still in training mode
(the `eval-mode-missing` evidence). Losses computed with gradients disabled are averaged
and handed to the dynamics monitors as one validation loss before the next training
backward (the `overfitting` evidence); `log_eval_loss` is also how `doctor.log` reports one.
A loss computed with gradients enabled on a model in eval mode that no backward reaches is
a validation loss too. Active functional dropout during a pass is noted on its record.
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.torch.watch.eval_mode import MAX_NAMES, training_mode_names
from nndoctor.torch.watch.losses import mean_loss_value
from nndoctor.torch.watch.models import MAX_EVENTS, WatchedModel

MAX_QUEUED_LOSSES = 10_000


class EvalPassTracking:
    """The evaluation-pass handlers of `Session` (a mixin: it uses the session's state)."""

    def _on_eval_forward(self, watched: WatchedModel) -> None:
        self.no_grad_forward_count += 1
        previous = self.no_grad_forwards[-1] if self.no_grad_forwards else None
        if previous and previous["step"] == self.step and previous["model"] == watched.label:
            return  # one record per evaluation pass is enough
        if len(self.no_grad_forwards) >= MAX_EVENTS:
            return
        in_training = training_mode_names(watched.mode_modules)
        self.no_grad_forwards.append({
            "step": self.step, "model": watched.label,
            "train_mode_modules": in_training[:MAX_NAMES],
            "train_mode_count": len(in_training),
            "mode_dependent_count": len(watched.mode_modules),
            "model_in_eval_mode": not watched.module.training,
            "functional_dropout": self._pending_dropout,
        })
        self._pending_dropout = []
        if in_training:
            self.judge.dirty = True

    def on_eval_dropout(self, function: str, rate: float) -> None:
        """Active functional dropout during an evaluation pass (see functional_dropout)."""
        last = self.no_grad_forwards[-1] if self.no_grad_forwards else None
        calls = last["functional_dropout"] if last is not None and last["step"] == self.step else self._pending_dropout
        for entry in calls:
            if entry["function"] == function and entry["p"] == rate:
                entry["calls"] += 1
                return
        if len(calls) < MAX_NAMES:
            calls.append({"function": function, "p": rate, "calls": 1})
            self.judge.dirty = True

    def _queue_eval_mode_loss(self, kind: str, output: torch.Tensor, prediction: Any, reduction: str) -> None:
        """A loss computed with gradients enabled on a model in eval mode: a validation loss
        computed outside torch.no_grad(), unless a backward runs through it. A hook on the
        loss tensor tells which, without keeping its graph alive."""
        if not output.requires_grad or len(self._eval_mode_losses) >= MAX_QUEUED_LOSSES:
            return
        reached = [False]

        def mark(_: torch.Tensor) -> None:
            reached[0] = True
        output.register_hook(mark)
        self._eval_mode_losses.append((mean_loss_value(kind, output, prediction, reduction), reached))

    def _settle_eval_mode_losses(self) -> None:
        """After a backward (or at the end): the queued losses no backward reached were
        validation losses."""
        values = [value for value, reached in self._eval_mode_losses if not reached[0]]
        self._eval_mode_losses.clear()
        if values:
            self.log_eval_loss(sum(values) / len(values))

    def _flush_eval_losses(self) -> None:
        if not self._eval_count:
            return
        value = self._eval_sum / self._eval_count
        self._eval_sum, self._eval_count = 0.0, 0
        self.log_eval_loss(value)

    def log_eval_loss(self, value: float, step: int | None = None) -> None:
        for watched in self.models.values():
            self._tell_monitor(watched, "on_eval_loss", float(value), self.step if step is None else step)
