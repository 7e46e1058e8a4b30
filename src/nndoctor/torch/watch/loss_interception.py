"""Seeing every loss computation: the torch.nn.functional losses are wrapped.

The nn loss modules call these functions too, so one wrapper per function sees every
loss. `LossCallTracking` is the part of `Session` that handles a call: the first calls
and then sampled ones are described for the loss rules (describing reads the autograd
graph and the call site, too slow for every step); a loss computed with gradients
disabled is a validation loss, averaged for the dynamics monitors.
"""
from __future__ import annotations

import sys
from typing import Any

import torch
import torch.nn.functional as F

from nndoctor.torch.loss_calls import LOSS_KINDS, describe_loss_call
from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.chance import OBSERVED_CALLS
from nndoctor.torch.watch.losses import (
    SIZE_WARNING_KINDS, call_relaying_warnings, judged_value, loss_target_tensor, may_warn, mean_loss_value,
    user_frame,
)

MAX_LOSS_CALLS = 60
# Loss calls described in full at the start of the run, per gradient mode; later ones
# only on sampled steps.
FIRST_DESCRIBED_CALLS = 3


def patch_losses(session: Any) -> None:
    """Wrap every known functional loss; the originals go to `session._originals`."""
    for function_name, kind in LOSS_KINDS.items():
        original = getattr(F, function_name, None)
        if original is None:
            continue
        session._originals[function_name] = original
        setattr(F, function_name, _wrap_loss(session, original, function_name, kind))


def unpatch_losses(originals: dict[str, Any]) -> None:
    """Put back every original that `patch_losses` recorded."""
    for name, original in originals.items():
        setattr(F, name, original)


def _wrap_loss(session: Any, original: Any, function_name: str, kind: str) -> Any:
    # Without keyword arguments, only these kinds can warn (skips a call at every loss).
    kind_may_warn = kind in SIZE_WARNING_KINDS or kind == "kl_div"

    def watched_loss(*args: Any, **kwargs: Any) -> Any:
        if (kind_may_warn or kwargs) and may_warn(kind, args, kwargs):
            output = call_relaying_warnings(original, args, kwargs, user_frame(sys._getframe(1)))
        else:
            output = original(*args, **kwargs)
        if not session.suspended and not session._in_loss:
            session._on_loss_call(function_name, kind, args, kwargs, output)
        return output

    watched_loss.__wrapped__ = original  # type: ignore[attr-defined]
    watched_loss.__doc__ = original.__doc__
    watched_loss.__name__ = original.__name__
    return watched_loss


class LossCallTracking:
    """The loss-call handler of `Session` (a mixin: it uses the session's state)."""

    def _on_loss_call(self, function_name: str, kind: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any], output: Any) -> None:
        self._in_loss = True
        try:
            prediction, target = loss_target_tensor(args, kwargs)
            if not isinstance(prediction, torch.Tensor) or not isinstance(output, torch.Tensor):
                return
            grad_mode = torch.is_grad_enabled()
            reduction = kwargs.get("reduction", "mean")
            if grad_mode:
                self._last_loss_output = output
                self._last_loss_reduction = reduction
                self._last_loss_identity = (function_name, tuple(target.shape) if isinstance(target, torch.Tensor) else None)
                self._grad_loss_calls += 1
                if not self._initial_tried or self.preflight_request is not None:
                    self._last_loss_call = {"kind": kind, "output": output, "prediction": prediction,
                                            "target": target, "reduction": reduction,
                                            "function": function_name, "kwargs": kwargs}
                if self.chance.calls < OBSERVED_CALLS:
                    self.chance.observe(function_name, kind, prediction, target, kwargs)
                if any(w.forwarded and w.forward_in_eval for w in self.models.values()):
                    self._queue_eval_mode_loss(kind, output, prediction, reduction)
            else:
                if self.models:
                    self._eval_sum += mean_loss_value(kind, output, prediction, reduction)
                    self._eval_count += 1
                if self.initial_eval_loss is None and not self.optimizer_steps and not self.backwards:
                    self._record_first_eval_loss(kind, output, prediction, target, reduction, kwargs)
            if ((self._described[grad_mode] < FIRST_DESCRIBED_CALLS or self.step % (self.every * 10) == 0)
                    and self._describe_due(grad_mode)):
                record = describe_loss_call(kind, prediction, target, step=self.step)
                if len(self.loss_calls) < MAX_LOSS_CALLS:
                    self.loss_calls.append(record)
                    self.judge.dirty = True
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("loss-call inspection", error, self.step)
        finally:
            self._in_loss = False

    def _record_first_eval_loss(self, kind: str, output: torch.Tensor, prediction: torch.Tensor, target: Any,
                                reduction: str, kwargs: dict[str, Any]) -> None:
        """An evaluation before any update: judged against the same expectation as the
        first training loss (a model evaluated before its first training forward, e.g.
        spectral_norm's power iteration not yet run, can start far from it)."""
        if self._initial_loss_record is None:
            return
        value, options = judged_value(output, reduction, kwargs)
        if value == value:  # not NaN (non-finite is the non-finite rule's)
            record = self._initial_loss_record(kind, value, prediction.detach(), target, self.step, options)
            record.update(phase="evaluation", before_training=True)
            self.initial_eval_loss = record
            self.judge.dirty = True

    def _describe_due(self, grad_mode: bool) -> bool:
        if self._described[grad_mode] < FIRST_DESCRIBED_CALLS:
            self._described[grad_mode] += 1
            return True
        if grad_mode and self.step % (self.every * 10) == 0 and self._described_step != self.step:
            self._described_step = self.step
            return True
        return False
