"""Seeing evaluation passes: forwards of a watched model with gradients disabled.

One record per pass says which dropout/normalization layers were still in training mode
(the `eval-mode-missing` evidence). Losses computed with gradients disabled are averaged
and handed to the dynamics monitors as one validation loss before the next training
backward (the `overfitting` evidence); `log_eval_loss` is also how `doctor.log` reports one.
"""
from __future__ import annotations

from nndoctor.torch.watch.eval_mode import MAX_NAMES, training_mode_names
from nndoctor.torch.watch.models import MAX_EVENTS, WatchedModel


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
        })
        if in_training:
            self.judge.dirty = True

    def _flush_eval_losses(self) -> None:
        if not self._eval_count:
            return
        value = self._eval_sum / self._eval_count
        self._eval_sum, self._eval_count = 0.0, 0
        self.log_eval_loss(value)

    def log_eval_loss(self, value: float, step: int | None = None) -> None:
        for watched in self.models.values():
            self._tell_monitor(watched, "on_eval_loss", float(value), self.step if step is None else step)
