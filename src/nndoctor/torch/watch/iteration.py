"""The shape of one training iteration, from the order of its events: which forward,
backward and update came when, and in which mode the model ran.

* step-before-backward: `out = model(x); optimizer.step(); loss.backward()` — the update
  falls between a model's forward and the backward of that forward's loss.
* accumulation-not-averaged: several backward() calls per update, each on the un-scaled
  output of a mean-reduced loss after its own forward: the update uses the sum of k
  micro-batch gradients.
* train-mode-missing: training forwards (followed by a backward) with the model's root
  module in eval mode.

Every method is a few integer updates on the hot path; tensors are read only on the
first accumulation steps (a gradient-norm probe of a few parameters).
"""
from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from nndoctor.torch.watch.eval_mode import MAX_NAMES, mode_kind
from nndoctor.torch.watch.models import WatchedModel
from nndoctor.torch.watch.optimizer_groups import ADAPTIVE_OPTIMIZERS

PROBE_PARAMETERS = 4
PROBED_STEPS = 5


def _grad_norm(params: list[torch.Tensor]) -> float | None:
    grads = [p.grad for p in params if p.grad is not None and not p.grad.is_sparse]
    if not grads:
        return None
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))


class IterationFacts:
    def __init__(self) -> None:
        self.iterations = 0
        self.update_between = 0
        self.first_between_step: int | None = None
        self.optimizer_names: set[str] = set()
        self.steps = 0
        self.several = 0
        self.k_counts: Counter[int] = Counter()
        self.unaveraged = 0
        self.averaged = 0
        self.first_unaveraged_step: int | None = None
        self.optimizer: str | None = None
        self._backwards = 0
        self._raw_backwards = 0
        self._forwards = 0  # training forwards since the last update (counted by the model hook)
        self._losses: set[Any] = set()  # (loss function, target shape) of this window's backwards
        self.same_loss: bool | None = None
        self._probe: list[torch.Tensor] = []
        self._probe_first: float | None = None
        self._probe_result: tuple[float | None, float | None] | None = None
        self._probed = 0

    # ------------------------------------------------------------- events
    def backward(self, step: int, raw_mean_loss: bool, in_step: bool,
                 forwarded: list[WatchedModel], loss_identity: Any = None) -> None:
        """Before a training backward; `forwarded` are the models whose forward fed it."""
        for watched in forwarded:
            watched.training_steps += 1
            if watched.forward_in_eval:
                self._note_eval_mode(watched, step)
            else:
                watched.eval_mode_streak = 0
        if in_step:
            return
        self._backwards += 1
        self._raw_backwards += raw_mean_loss
        if loss_identity is not None and len(self._losses) < 4:
            self._losses.add(loss_identity)
        owned = [w for w in forwarded if w.optimizer_ids]
        if owned:
            self.iterations += 1
            if any(w.updated_at is not None and w.forward_at is not None and w.updated_at >= w.forward_at
                   for w in owned):
                self.update_between += 1
                if self.first_between_step is None:
                    self.first_between_step = step
        if self._backwards == 1 and self._probed < PROBED_STEPS and self._probe_result is None and forwarded:
            self._probe = [p for p in forwarded[0].tracker.params if p.requires_grad][:PROBE_PARAMETERS]

    def after_first_backward(self) -> None:
        if self._probe and self._backwards == 1:
            self._probe_first = _grad_norm(self._probe)

    def update(self, step: int, optimizer_name: str) -> None:
        """At an optimizer step (not a closure step): close the iteration's window."""
        k, raw, forwards, losses = self._backwards, self._raw_backwards, self._forwards, self._losses
        self._backwards = self._raw_backwards = self._forwards = 0
        self._losses = set()
        self.steps += 1
        self.optimizer_names.add(optimizer_name)
        if k >= 2:
            self.several += 1
            self.k_counts[k] += 1
            if raw == k and forwards >= k:
                self.unaveraged += 1
                if self.first_unaveraged_step is None:
                    self.first_unaveraged_step = step
                    self.optimizer = optimizer_name
                    # Different losses summed by separate backwards (multi-task, domain
                    # adaptation) are not an accumulation of one loss.
                    self.same_loss = len(losses) == 1
                if self._probe and self._probe_result is None:
                    self._probe_result = (self._probe_first, _grad_norm(self._probe))
            elif raw == 0:
                self.averaged += 1
        if self._probe:
            self._probed += 1
            if self._probed >= PROBED_STEPS or self._probe_result is not None:
                self._probe = []

    def _note_eval_mode(self, watched: WatchedModel, step: int) -> None:
        watched.eval_mode_steps += 1
        watched.eval_mode_streak += 1
        watched.eval_mode_longest = max(watched.eval_mode_longest, watched.eval_mode_streak)
        if watched.eval_mode_first_step is None:
            watched.eval_mode_first_step = step
            watched.eval_mode_modules = [
                f"{name} ({type(m).__name__})" for name, m in watched.mode_modules if not m.training
            ][:MAX_NAMES]

    # ------------------------------------------------------------- measurements
    def step_order(self) -> dict[str, Any]:
        return {"iterations": self.iterations, "update_between_forward_and_backward": self.update_between,
                "first_step": self.first_between_step, "optimizers": sorted(self.optimizer_names)}

    def accumulation(self) -> dict[str, Any]:
        first, at_step = self._probe_result or (None, None)
        k = self.k_counts.most_common(1)[0][0] if self.k_counts else 1
        optimizer = self.optimizer or (sorted(self.optimizer_names)[0] if self.optimizer_names else None)
        return {"steps": self.steps, "steps_with_several_backwards": self.several, "backwards_per_step": k,
                "unaveraged_steps": self.unaveraged, "averaged_steps": self.averaged,
                "first_step": self.first_unaveraged_step, "same_loss": self.same_loss, "optimizer": optimizer,
                "adaptive": optimizer in ADAPTIVE_OPTIMIZERS if optimizer else None,
                "grad_norm_first_backward": first, "grad_norm_at_step": at_step}


def train_mode_record(watched: WatchedModel) -> dict[str, Any]:
    modules = watched.mode_modules
    return {"model": watched.label, "training_steps": watched.training_steps,
            "steps_in_eval_mode": watched.eval_mode_steps, "first_step": watched.eval_mode_first_step,
            "longest_streak": watched.eval_mode_longest, "mode_dependent_count": len(modules),
            "mode_modules_in_eval": watched.eval_mode_modules,
            "kinds": sorted({mode_kind(m) for _, m in modules})}
