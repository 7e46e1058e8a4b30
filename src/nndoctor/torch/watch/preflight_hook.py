"""`nndoctor run --preflight`: run the preflight suite on the script's first real
training step, with zero code.

At every training backward until preflight has run, the loss call of that iteration is
remembered (function, keyword arguments, prediction shape, target); at the first update
the model (the training model found by then, unwrapped from DataParallel/DDP), the batch
(the positional and keyword inputs of the model's forward that produced the loss, and the
loss's target as the loss received it, flattened or not), the loss function (the recorded
call replayed on the model's output) and the optimizer are handed to `nndoctor.preflight`,
while the watch session is paused. Preflight restores every piece of state it touches, so
training continues exactly as it would have. Scripts that update parameters by hand are
checked at their second backward, without an optimizer.

When preflight cannot run, the reason goes into the run's report as a skipped check, so
"no preflight finding" never hides "no preflight". Under distributed training with more
than one process it is skipped on every rank: experiments on one rank only would leave
the others waiting at the next collective.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import torch
import torch.nn.functional as F

from nndoctor.core.report import Report
from nndoctor.torch.preflight.structures import CallArguments, iter_tensors

# A closure optimizer (LBFGS) runs its first backward inside its first step, and a model
# first seen through the global forward hook (which gets no keyword arguments) has its
# inputs recorded from its next forward: a few steps are worth waiting for.
WAIT_STEPS = 3


def _output_tensors(outputs: Any) -> list[torch.Tensor]:
    """The model's output tensors in a stable order, `logits` first when it has a name."""
    tensors = list(iter_tensors(outputs))
    logits = outputs.get("logits") if hasattr(outputs, "get") else getattr(outputs, "logits", None)
    if isinstance(logits, torch.Tensor):
        tensors = [logits, *(t for t in tensors if t is not logits)]
    return tensors


def _prediction_index(tensors: list[torch.Tensor], shape: list[int]) -> int | None:
    """Which output tensor the script gave the loss: the one of the prediction's shape,
    else one with as many elements (reshaped by the script), else the first non-scalar."""
    numel = math.prod(shape)
    for test in (lambda t: list(t.shape) == shape, lambda t: t.numel() == numel, lambda t: t.dim() >= 1):
        found = next((i for i, t in enumerate(tensors) if t.is_floating_point() and test(t)), None)
        if found is not None:
            return found
    return None


def replay_loss(function_name: str, kwargs: dict[str, Any], shape: list[int]) -> Callable[[Any, Any], Any]:
    """A `loss_fn(outputs, targets)` that calls the intercepted loss function the way the
    script did: on the model's output tensor that the script gave the loss (found on the
    first call, the real batch, and kept for the slices after it), reshaped like the
    script's prediction when the shapes differ (the usual `logits.view(-1, vocab)`). The
    function is looked up on torch.nn.functional at call time, so preflight's own loss
    recorder sees the call."""
    chosen: list[int] = []

    def loss_fn(outputs: Any, targets: Any) -> Any:
        tensors = _output_tensors(outputs)
        if not chosen:
            index = _prediction_index(tensors, shape)
            chosen.append(index if index is not None else 0)
        prediction = tensors[chosen[0]] if chosen[0] < len(tensors) else outputs
        if isinstance(prediction, torch.Tensor) and list(prediction.shape) != shape:
            if len(shape) >= 2 and prediction.numel() % max(math.prod(shape[1:]), 1) == 0:
                prediction = prediction.reshape(-1, *shape[1:])
            elif len(shape) == 1:
                prediction = prediction.reshape(-1)
            elif not shape:
                prediction = prediction.reshape(())
        return getattr(F, function_name)(prediction, targets, **kwargs)

    return loss_fn


def _batch_inputs(inputs: tuple[tuple[Any, ...], dict[str, Any]]) -> Any:
    """The recorded call in preflight's conventions: one tensor → model(x), positional
    only → model(*args), keyword only → model(**kwargs), both → CallArguments."""
    args, kwargs = inputs
    if kwargs and not args:
        return dict(kwargs)
    if len(args) == 1 and not kwargs and isinstance(args[0], torch.Tensor):
        return args[0]
    if kwargs:
        return CallArguments(tuple(args), dict(kwargs))
    return tuple(args)


def distributed_world_size() -> int:
    distributed = getattr(torch, "distributed", None)
    if distributed is None or not distributed.is_available() or not distributed.is_initialized():
        return 1
    return int(distributed.get_world_size())


def _unwrapped(module: torch.nn.Module) -> torch.nn.Module:
    """The model inside DataParallel / DistributedDataParallel (same parameters, no
    collectives in its forward)."""
    wrappers = (torch.nn.DataParallel, torch.nn.parallel.DistributedDataParallel)
    while isinstance(module, wrappers):
        module = module.module
    return module


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
        call = session._last_loss_call
        if call is not None:
            # This iteration's call: it pairs with the inputs of this iteration's forward.
            self.loss_call = {"function": call["function"], "kwargs": dict(call["kwargs"]),
                              "shape": list(call["prediction"].shape), "target": call["target"]}
        if self.backwards >= 2 and not session.optimizers:
            self.run(session, None)  # manual updates: no optimizer step to wait for

    def on_step(self, session: Any, optimizer: Any, info: Any) -> None:
        self.steps_seen += 1
        model = self._model(session)
        inputs_missing = model is not None and not any(True for _ in iter_tensors(model.last_inputs))
        if (self.loss_call is None or inputs_missing) and self.steps_seen < WAIT_STEPS:
            if inputs_missing:
                model.last_inputs = None  # the model's own hook records its next forward
            return
        self.run(session, optimizer)

    @staticmethod
    def _model(session: Any) -> Any:
        return next((w for w in session.models.values() if w.last_inputs is not None), None)

    def run(self, session: Any, optimizer: Any) -> None:
        session.preflight_request = None  # once, whatever happens
        model = self._model(session)
        world_size = distributed_world_size()
        if world_size > 1:
            self._skip(f"preflight is skipped under distributed training: with {world_size} processes, "
                       "experiments on one rank would leave the others waiting at the next collective; "
                       "run `nndoctor run --preflight` on a single-process version of the script")
            return
        if model is None or self.loss_call is None:
            self._skip("preflight could not run: the first training step was not recognised (no model "
                       "forward followed by a torch loss function such as F.cross_entropy)")
            return
        if not any(True for _ in iter_tensors(model.last_inputs)):
            self._skip("preflight could not run: the inputs of the model's forward were not seen")
            return
        call = self.loss_call
        batch = (_batch_inputs(model.last_inputs), call["target"])
        loss_fn = replay_loss(call["function"], call["kwargs"], call["shape"])
        for watched in session.models.values():
            watched.last_inputs = None
        from nndoctor.torch.preflight.api import run_preflight
        from nndoctor.torch.preflight.validation import parse_options

        options = parse_options({} if self.steps is None else {"steps": self.steps})
        session.suspended += 1
        try:
            which = "the first training step" if self.steps_seen <= 1 else f"training step {self.steps_seen}"
            self._say(f"running preflight on {which} of {model.label} (training continues afterwards) …")
            with warnings.catch_warnings():
                # The script's own warnings were shown at its own calls already; the
                # experiments' repeats of them would only be noise.
                warnings.simplefilter("ignore")
                # The run's own selection and thresholds (its --select/--ignore, pyproject).
                self.report = run_preflight(_unwrapped(model.module), batch, loss_fn, optimizer, options,
                                            selection=session.judge.rule_set.selection)
        except Exception as error:  # noqa: BLE001 — a preflight failure never stops training
            self._skip(f"preflight could not run on the intercepted step: {error}")
            return
        finally:
            session.suspended -= 1
        self.printer(self.report)

    def merge_into(self, report: Report) -> None:
        from nndoctor.live.preflight_merge import merge_preflight

        merge_preflight(report, self.report, self.message or (
            "preflight did not run: the script ended before its first training step (no backward() "
            "followed by an update)"))

    def _skip(self, reason: str) -> None:
        self.message = reason
        self._say(reason)

    def _say(self, text: str) -> None:
        import sys

        print(f"nndoctor: {text}", file=sys.stderr, flush=True)
