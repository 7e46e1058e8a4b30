"""Seeing every training loss: `backward` is wrapped for the length of a session.

`torch.Tensor.backward` and `torch.autograd.backward` are replaced (and restored on
uninstall) so that the tensor backward is called on, the training loss, reaches the
session before and after its gradients are computed. `BackwardTracking` is the part of
`Session` that handles those two moments: it adopts newly discovered models, feeds the
loss to the dynamics monitors, records the first loss for the `initial-loss-off` rule
and notes gradients before and after.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.losses import judged_value


def patch_backward(session: Any) -> None:
    """Replace both backward entry points; the originals go to `session._originals`."""
    tensor_backward = torch.Tensor.backward
    autograd_backward = torch.autograd.backward
    session._originals["tensor_backward"] = tensor_backward
    session._originals["autograd_backward"] = autograd_backward

    def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        return _run_watched_backward(session, self, tensor_backward, self, *args, **kwargs)

    def autograd_backward_wrapper(tensors: Any, *args: Any, **kwargs: Any) -> Any:
        if session._in_backward:  # reached from inside the patched Tensor.backward
            return autograd_backward(tensors, *args, **kwargs)
        first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
        return _run_watched_backward(session, first, autograd_backward, tensors, *args, **kwargs)

    backward.__wrapped__ = tensor_backward  # type: ignore[attr-defined]
    backward.__doc__ = tensor_backward.__doc__
    autograd_backward_wrapper.__wrapped__ = autograd_backward  # type: ignore[attr-defined]
    autograd_backward_wrapper.__doc__ = autograd_backward.__doc__
    torch.Tensor.backward = backward
    torch.autograd.backward = autograd_backward_wrapper


def unpatch_backward(originals: dict[str, Any]) -> None:
    """Put back what `patch_backward` replaced (and drop it from `originals`)."""
    torch.Tensor.backward = originals.pop("tensor_backward")
    torch.autograd.backward = originals.pop("autograd_backward")


def _run_watched_backward(session: Any, loss: Any, original: Any, /, *args: Any, **kwargs: Any) -> Any:
    """Call the original backward between the session's before/after handlers; a backward
    that raises leaves the session ready for the next one and re-raises unchanged."""
    handled = isinstance(loss, torch.Tensor) and session._before_backward(loss)
    try:
        result = original(*args, **kwargs)
    except BaseException:
        if handled:
            session._in_backward = False
        raise
    if handled:
        session._after_backward()
    return result


def unscaled_loss(loss: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """GradScaler's `scaler.scale(loss).backward()`: the tensor backward is called on is the
    loss output times the scale; the loss itself is `output`."""
    if (output is not loss and type(loss.grad_fn).__name__ == "MulBackward0"
            and any(node is output.grad_fn for node, _ in loss.grad_fn.next_functions)):
        return output
    return loss


class BackwardTracking:
    """The backward handlers of `Session` (a mixin: it uses the session's state)."""

    def _before_backward(self, loss: torch.Tensor) -> bool:
        if self._in_backward or self.suspended or not self.installed:
            return False
        self._in_backward = True
        try:
            in_step = self._step_depth > 0
            if in_step:
                self._backwards_in_step += 1
                if self._in_closure_step and not self._closure_backward_checked:
                    # The first backward of a closure call: it starts from gradients the
                    # optimizer already consumed, unless the closure reset them.
                    self._closure_backward_checked = True
                    self.stale.before_backward()
                    if self.optimizer_steps:
                        self.stale_checks += 1
            else:
                if self._manual_pending:
                    self._detect_manual_update()
                self.stale.before_backward()
                if self.step:
                    self.stale_checks += 1
            if self._eval_count:
                self._flush_eval_losses()
            if self._candidates:
                self._adopt_candidates()
            output = self._last_loss_output
            raw = (output is not None and self._last_loss_reduction == "mean"
                   and unscaled_loss(loss, output) is output)
            forwarded = [w for w in self.models.values() if w.forwarded]
            self.iterations.backward(self.step, raw, in_step, forwarded,
                                     self._last_loss_identity if raw else None)
            if not in_step or self._backwards_in_step == 1:
                self._on_training_loss(loss)
            if self.preflight_request is not None and (not in_step or self._backwards_in_step == 1):
                self.preflight_request.on_backward(self, loss)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("backward hook", error, self.step)
        return True

    def _after_backward(self) -> None:
        self._in_backward = False
        try:
            self.backwards += 1
            if self._first_layer_handle is not None:
                self._disarm_first_layer_probe()  # that forward had no layer with parameters
            self.iterations.after_first_backward()
            if self._eval_mode_losses:
                self._settle_eval_mode_losses()
            if self._provisional:
                self._confirm_adopted()
            if self._discovery_handles and self._discovery_complete():
                self._stop_discovery()
            for watched in self.models.values():
                tracker = watched.tracker
                if len(tracker.got_grad) < len(tracker.params) or tracker.probing:
                    tracker.after_backward(self.every)
                else:  # every parameter has had a gradient: only the count moves
                    tracker.backwards_seen += 1
                if tracker.suspects:
                    tracker.note_backward_grads()
                if watched.forwarded and not self._step_depth and not watched.optimizer_ids:  # manual
                    self._prepare_manual_update(watched)
                watched.forwarded = False
            if self.stale.suspects:
                self.stale.after_backward()
            self._stepped_since_backward = False
            self._last_loss_call = None
            self._last_loss_output = None
            self._grad_loss_calls = 0
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("backward hook", error, self.step)
        self._maybe_judge()

    def _on_training_loss(self, loss: torch.Tensor) -> None:
        if loss.numel() != 1:
            return
        output = self._last_loss_output
        if output is not None:
            loss = unscaled_loss(loss, output)  # the monitor wants the loss itself
        models = self.models
        if len(models) == 1:
            forwarded = models.values()  # the common case, without building lists
        else:
            forwarded = [w for w in models.values() if w.forwarded] or list(models.values())
        for watched in forwarded:
            self._tell_monitor(watched, "on_loss", loss, self.step)
        if not self._initial_tried:
            self._initial_tried = True
            # Several loss terms (a GAN's real and fake parts): no single expectation applies.
            if self._last_loss_call is not None and self._grad_loss_calls == 1:
                with self.faults.guard("initial loss", self.step):
                    self._record_initial_loss(self._last_loss_call)

    def _record_initial_loss(self, call: dict[str, Any]) -> None:
        if self._initial_loss_record is None:
            return
        value, options = judged_value(call["output"], call["reduction"], call["kwargs"])
        if math.isfinite(value):
            self.initial_loss = self._initial_loss_record(
                call["kind"], value, call["prediction"].detach(), call["target"], self.step, options)
            self.judge.dirty = True
