"""Validation losses of a zero-code JAX run (`nndoctor run train_flax.py`).

A torch script's evaluation shows itself by a loss computed with gradients off; a JAX
script's by an optax loss computed in a jitted function that takes no gradient (Flax's
`eval_step`). For the run, the optax loss functions (`optax.X`, `optax.losses.X`) are
wrapped: a call made while a jitted function is traced, outside any gradient transform,
sends the batch's mean loss to the host by `jax.debug.callback` — unless that same traced
function also takes a gradient (a train step computing its metrics after the update),
which the gradient wrapper reports through `training(value)`; the callback asks at run
time, when the trace is complete. Eager calls (no jit) are left alone: without a trace
there is no way to tell an evaluation from a train step's metrics.

The doctor averages the losses of one evaluation pass (the batches between two training
steps) into one validation loss, as it does for torch.
"""
from __future__ import annotations

import weakref
from typing import Any

import jax
import jax.numpy as jnp
import optax

from nndoctor.jax.losses import OPTAX_LOSSES


def _trace_of(value: Any) -> Any:
    return getattr(value, "_trace", None) if isinstance(value, jax.core.Tracer) else None


class EvalLossCapture:
    def __init__(self, doctor: Any, paused: dict[str, int]) -> None:
        self.doctor = doctor
        self.paused = paused
        self.grad_depth = 0  # > 0 while a gradient transform traces the user's loss_fn
        self._training: weakref.WeakSet = weakref.WeakSet()  # traces that took a gradient
        self._cells: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # trace → its calls' flags

    def install(self, patch: Any) -> None:
        for namespace in (optax, optax.losses):
            for name in OPTAX_LOSSES:
                original = getattr(namespace, name, None)
                if original is not None:
                    patch(namespace, name, self._wrap(original))

    def training(self, value: Any) -> None:
        """`value` (the loss a gradient transform returned) belongs to a train step's trace:
        the optax losses of that trace are not validation losses."""
        trace = _trace_of(value)
        if trace is None:
            return
        self._training.add(trace)
        for cell in self._cells.get(trace, ()):
            cell["train"] = True

    def _wrap(self, original: Any) -> Any:
        capture = self

        def loss(*args: Any, **kwargs: Any) -> Any:
            output = original(*args, **kwargs)
            if capture.grad_depth or capture.paused["depth"]:
                return output
            with capture.doctor.faults.guard("validation loss capture"):
                capture._observe(output)
            return output

        loss.__wrapped__ = original  # type: ignore[attr-defined]
        loss.__doc__ = original.__doc__
        return loss

    def _observe(self, output: Any) -> None:
        trace = _trace_of(output)
        if trace is None or trace in self._training or not jnp.issubdtype(output.dtype, jnp.floating):
            return  # no callback in a train step (its metrics after the gradient): nothing to send
        cell = {"train": False}  # set when a gradient is taken later in the same trace
        self._cells.setdefault(trace, []).append(cell)
        doctor = self.doctor

        def send(value: Any) -> None:
            if not cell["train"]:
                doctor.on_eval_loss(value)

        jax.debug.callback(send, jnp.mean(output.astype(jnp.float32)))
