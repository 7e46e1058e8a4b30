"""`nndoctor run --preflight`: run the preflight suite on the script's first real
training step, with zero code.

At the first training backward the loss call is remembered (function, keyword arguments,
target); at the first update the model (the training model found by then), the batch (the
inputs of the model's forward that produced the loss, and the loss's target), the loss
function (the recorded call replayed on the model's output) and the optimizer are handed
to `nndoctor.preflight`, while the watch session is paused. Preflight restores every piece
of state it touches, so training continues exactly as it would have. Scripts that update
parameters by hand are checked at their second backward, without an optimizer.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F

from nndoctor.core.report import Report


def _first_tensor(outputs: Any) -> Any:
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        for key in ("logits", "output", "out"):
            if isinstance(outputs.get(key), torch.Tensor):
                return outputs[key]
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        for item in outputs:
            if isinstance(item, torch.Tensor):
                return item
    return outputs


def replay_loss(function_name: str, kwargs: dict[str, Any], shape: list[int]) -> Callable[[Any, Any], Any]:
    """A `loss_fn(outputs, targets)` that calls the intercepted loss function the way the
    script did: on the model's (first) output tensor, flattened like the script's
    prediction when the shapes differ (the usual `logits.view(-1, vocab)`). The function
    is looked up on torch.nn.functional at call time, so preflight's own loss recorder
    sees the call."""

    def loss_fn(outputs: Any, targets: Any) -> Any:
        prediction = _first_tensor(outputs)
        if isinstance(prediction, torch.Tensor) and list(prediction.shape) != shape:
            if len(shape) >= 2 and prediction.numel() % max(math.prod(shape[1:]), 1) == 0:
                prediction = prediction.reshape(-1, *shape[1:])
            elif len(shape) == 1:
                prediction = prediction.reshape(-1)
        return getattr(F, function_name)(prediction, targets, **kwargs)

    return loss_fn


def _batch_inputs(inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
    args, kwargs = inputs
    if kwargs and not args:
        return dict(kwargs)
    if len(args) == 1 and not kwargs:
        return args[0]
    return tuple(args)


WAIT_STEPS = 3


class PreflightRequest:
    def __init__(self, printer: Callable[[Report], None], steps: int | None = None) -> None:
        self.printer = printer
        self.steps = steps
        self.loss_call: dict[str, Any] | None = None
        self.backwards = 0
        self.steps_seen = 0
        self.report: Report | None = None
        self.message: str | None = None

    def on_backward(self, session: Any, loss: torch.Tensor) -> None:
        self.backwards += 1
        if self.loss_call is None and session._last_loss_call is not None:
            call = session._last_loss_call
            self.loss_call = {"function": call["function"], "kwargs": dict(call["kwargs"]),
                              "shape": list(call["prediction"].shape), "target": call["target"]}
        elif self.backwards >= 2 and not session.optimizers:
            self.run(session, None)  # manual updates: no optimizer step to wait for

    def on_step(self, session: Any, optimizer: Any, info: Any) -> None:
        self.steps_seen += 1
        if self.loss_call is None and self.steps_seen < WAIT_STEPS:
            return  # a closure optimizer (LBFGS) runs its first backward inside this step
        self.run(session, optimizer)

    def run(self, session: Any, optimizer: Any) -> None:
        session.preflight_request = None  # once, whatever happens
        model = next((w for w in session.models.values() if w.last_inputs is not None), None)
        if model is None or self.loss_call is None:
            self.message = ("the first training step was not recognised (no model forward "
                            "followed by a torch loss function)")
            self._say(self.message)
            return
        call = self.loss_call
        batch = (_batch_inputs(model.last_inputs), call["target"])
        loss_fn = replay_loss(call["function"], call["kwargs"], call["shape"])
        for watched in session.models.values():
            watched.last_inputs = None
        from nndoctor.torch.preflight import preflight

        options = {} if self.steps is None else {"steps": self.steps}
        session.suspended += 1
        try:
            self._say(f"running preflight on the first training step of {model.label} "
                      "(training continues afterwards) …")
            with warnings.catch_warnings():
                # The script's own warnings were shown at its own calls already; the
                # experiments' repeats of them would only be noise.
                warnings.simplefilter("ignore")
                self.report = preflight(model.module, batch, loss_fn, optimizer, **options)
        except Exception as error:  # noqa: BLE001 — a preflight failure never stops training
            self.message = f"preflight could not run on the intercepted step: {error}"
            self._say(self.message)
            return
        finally:
            session.suspended -= 1
        self.printer(self.report)

    def _say(self, text: str) -> None:
        import sys

        print(f"nndoctor: {text}", file=sys.stderr, flush=True)
