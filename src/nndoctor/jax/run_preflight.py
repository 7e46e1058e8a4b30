"""`nndoctor run --preflight` for JAX scripts: the preflight checks on the script's own
model, batch, loss and optimizer, with zero code, before training goes on.

For the run, `jax.jit` and `nnx.jit` return thin wrappers. A jitted function is traced
before its first call runs; the run's patched grad transform (nndoctor.jax.run) marks it
as a training step when it takes the gradient of a scalar loss. Then, before that call
runs, the step is run once eagerly (`jax.disable_jit`) up to that gradient call, which
is stopped there and kept: its loss function and concrete arguments (NNX modules as the
copies nnx.jit makes; the user's objects are not touched). The loss function is then
evaluated once, eagerly, with the model's call and the optax loss call recorded. That
gives what `nndoctor.jax.preflight` takes: the model and its variables, the batch (the
model's inputs, the loss's target), `loss_fn(outputs, targets)` replaying the recorded
optax loss (mean-reduced) on the model's output, and the optimizer built last.

Afterwards the wrappers only pass calls through. When preflight cannot run, the reason
is listed in the run's report as the skipped check `preflight`.
"""
from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flax.linen.module as linen_module
import jax
import numpy as np
import optax
from flax import linen, nnx

from nndoctor.core.report import Report
from nndoctor.jax.losses import OPTAX_LOSSES
from nndoctor.jax.model import LINEN_TRAIN_ARGUMENTS


@dataclass
class GradCall:
    """A gradient call of the training step, stopped before it ran."""
    function: Callable[..., Any]
    has_aux: bool
    args: tuple
    kwargs: dict[str, Any]


class _Stopped(Exception):
    def __init__(self, call: GradCall) -> None:
        super().__init__("stopped at the training step's gradient call")
        self.call = call


class JitWrapper:
    """A jitted function of the script: calls pass through; before the first call of a
    training step runs, preflight does."""

    def __init__(self, jitted: Any, capture: PreflightCapture) -> None:
        self._jitted = jitted
        self._capture = capture
        self.trains = False  # its trace took the gradient of a loss
        self.calls = 0
        functools.update_wrapper(self, jitted, updated=())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        capture = self._capture
        if not capture.pending or capture.calling is not None:  # done, or called inside another
            return self._jitted(*args, **kwargs)
        capture.calling = self
        try:
            self.calls += 1
            if self.calls == 1 and hasattr(self._jitted, "trace"):
                # Traced before it first runs (jax.jit reuses this trace for the call), so that
                # preflight sees the script's initial parameters.
                try:
                    self._jitted.trace(*args, **kwargs)
                except Exception:  # noqa: BLE001 — the call below raises the script's own error
                    pass
            if self.trains:
                capture.run(self, args, kwargs)
            return self._jitted(*args, **kwargs)
        finally:
            capture.calling = None

    def __getattr__(self, name: str) -> Any:  # .lower, .trace, .eval_shape, …
        return getattr(self._jitted, name)

    def __get__(self, instance: Any, owner: Any = None) -> Any:  # a jitted method
        return self if instance is None else functools.partial(self, instance)


class PreflightCapture:
    def __init__(self, printer: Callable[[Report], None], paused: Any, is_paused: Callable[[], bool]) -> None:
        self.printer = printer
        self.paused = paused  # nndoctor.jax.run.paused: the run's patches pass through inside
        self.is_paused = is_paused
        self.pending = True
        self.armed = False  # the eager replay is on: the next user gradient call is stopped
        self.calling: JitWrapper | None = None
        self.optimizer: Any = None  # the last optax optimizer the script built (unwrapped)
        self.selection: Any = None
        self.report: Report | None = None
        self.message: str | None = None
        self.steps_seen = 0

    # ----------------------------------------------------------------- hooks of the run
    def jit_constructor(self, original: Any) -> Any:
        capture = self

        def jit(*args: Any, **kwargs: Any) -> Any:
            made = original(*args, **kwargs)
            if not capture.pending or capture.is_paused():
                return made
            if not args or not callable(args[0]):  # used as @jit(static_argnums=…)
                return lambda function: capture.wrap(made(function))
            return capture.wrap(made)

        jit.__wrapped__ = original  # type: ignore[attr-defined]
        jit.__doc__ = original.__doc__
        return jit

    def wrap(self, jitted: Any) -> Any:
        return jitted if isinstance(jitted, JitWrapper) else JitWrapper(jitted, self)

    def on_training_grad(self) -> None:
        """At trace time: the jitted function being traced takes the gradient of a loss."""
        if self.calling is not None:
            self.calling.trains = True

    def stop(self, function: Any, has_aux: bool, args: tuple, kwargs: dict[str, Any]) -> None:
        if self.armed:
            self.armed = False
            raise _Stopped(GradCall(function, has_aux, args, kwargs))

    # ----------------------------------------------------------------- preflight
    def run(self, step: JitWrapper, args: tuple, kwargs: dict[str, Any]) -> None:
        self.pending = False  # once, whatever happens
        try:
            call = self._stop_at_gradient(step, args, kwargs)
            pieces = call if isinstance(call, str) else self._pieces(call)
            if isinstance(pieces, str):
                self._skip(f"preflight could not run: {pieces}")
                return
            from nndoctor.jax.experiments.api import run_preflight

            which = "first call" if step.calls == 1 else f"call {step.calls}"
            self._say(f"running preflight on the {which} of the training step `{_name(step)}` "
                      f"(training continues afterwards) …")
            with self.paused(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the script's warnings were shown at its own calls
                self.report = run_preflight(*pieces, self.optimizer, {}, self.selection)
        except Exception as error:  # noqa: BLE001 — a preflight failure never stops training
            self._skip(f"preflight could not run on the intercepted step: {type(error).__name__}: {error}")
            return
        self.printer(self.report)

    def _stop_at_gradient(self, step: JitWrapper, args: tuple, kwargs: dict[str, Any]) -> GradCall | str:
        self.armed = True
        try:
            with jax.disable_jit():
                step._jitted(*args, **kwargs)
        except _Stopped as stopped:
            return stopped.call
        finally:
            self.armed = False
        return "replayed eagerly, the training step took no gradient"

    def _pieces(self, call: GradCall) -> tuple[Any, Any, Any, Any] | str:
        """(model, params_or_state, batch, loss_fn) from one eager evaluation of the loss."""
        args = tuple(nnx.clone(arg) if isinstance(arg, nnx.Module) else arg for arg in call.args)
        with self.paused(), _Recording(args) as seen:
            call.function(*args, **call.kwargs)
        if seen.model is None:
            return "no Flax model call (linen `apply` or an nnx.Module argument's call) was seen in the loss"
        if seen.loss is None:
            return (f"the loss is not one of optax's loss functions ({', '.join(sorted(OPTAX_LOSSES))}), "
                    "so the batch's targets are unknown; call nndoctor.jax.preflight(...) in the script")
        module, variables, inputs, keywords, outputs = seen.model
        loss_name, prediction, target, extra_args, extra_kwargs = seen.loss
        leaf, path = _find_prediction(outputs, prediction)
        if leaf is None:
            return (f"the loss was given an array of shape {tuple(np.shape(prediction))} that is not the "
                    "model's output (nor a reshape of it)")
        shape = tuple(np.shape(prediction))

        def loss_fn(outputs: Any, targets: Any) -> Any:
            predicted = _at(outputs, path)
            if predicted.shape[1:] != shape[1:]:
                predicted = predicted.reshape(-1, *shape[1:]) if shape else predicted.reshape(())
            # Looked up at call time, so that preflight's own loss recorder sees the call.
            return getattr(optax, loss_name)(predicted, targets, *extra_args, **extra_kwargs).mean()

        if isinstance(module, linen.Module):
            keywords = {k: v for k, v in keywords.items() if k not in LINEN_TRAIN_ARGUMENTS}
            variables = dict(variables)
        if inputs and keywords:
            return "the model was called with both positional and keyword inputs"
        batch_inputs = dict(keywords) if keywords else (inputs[0] if len(inputs) == 1 else tuple(inputs))
        return module, variables, (batch_inputs, target), loss_fn

    # ----------------------------------------------------------------- report
    def merge_into(self, report: Report) -> None:
        from nndoctor.live.preflight_merge import merge_preflight

        reason = self.message or ("preflight did not run: no jitted training step (jax.jit / nnx.jit "
                                  "around a jax or nnx grad) was called twice")
        merge_preflight(report, self.report, reason)

    def _skip(self, reason: str) -> None:
        self.message = reason
        self._say(reason)

    @staticmethod
    def _say(text: str) -> None:
        print(f"nndoctor: {text}", file=sys.stderr, flush=True)


class _Recording:
    """For one eager evaluation of the loss: the first Flax model call (Linen `apply`, or
    the call of an nnx.Module argument) and the first optax loss call."""

    def __init__(self, args: tuple) -> None:
        self.modules = [arg for arg in args if isinstance(arg, nnx.Module)]
        self.model: tuple | None = None  # (module, variables, args, kwargs, outputs)
        self.loss: tuple | None = None  # (optax name, prediction, target, other args, other kwargs)
        self._saved: list[tuple[Any, str, Any]] = []

    def __enter__(self) -> _Recording:
        self._patch(linen_module, "apply", self._linen_apply(linen_module.apply))
        for cls in {type(module) for module in self.modules}:
            self._patch(cls, "__call__", self._nnx_call(cls.__call__))
        for namespace in (optax, optax.losses):
            for name in OPTAX_LOSSES:
                if hasattr(namespace, name):
                    self._patch(namespace, name, self._loss(name, getattr(namespace, name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for namespace, name, original in reversed(self._saved):
            setattr(namespace, name, original)

    def _patch(self, namespace: Any, name: str, replacement: Any) -> None:
        self._saved.append((namespace, name, namespace.__dict__.get(name, getattr(namespace, name))))
        setattr(namespace, name, replacement)

    def _linen_apply(self, original: Any) -> Any:
        def apply(fn: Any, module: Any, *options: Any, **option_kwargs: Any) -> Any:
            bound = original(fn, module, *options, **option_kwargs)
            mutable = option_kwargs.get("mutable", options[0] if options else False)
            if fn is not type(module).__call__:  # model.apply(..., method=other): not the model's call
                return bound

            def call(variables: Any, *args: Any, rngs: Any = None, **kwargs: Any) -> Any:
                outputs = bound(variables, *args, rngs=rngs, **kwargs)
                if self.model is None:
                    self.model = (module, variables, args, kwargs, outputs[0] if mutable else outputs)
                return outputs

            return call

        return apply

    def _nnx_call(self, original: Any) -> Any:
        def __call__(module: Any, *args: Any, **kwargs: Any) -> Any:
            outputs = original(module, *args, **kwargs)
            if self.model is None and any(module is m for m in self.modules):
                self.model = (module, None, args, kwargs, outputs)
            return outputs

        return __call__

    def _loss(self, name: str, original: Any) -> Any:
        def loss(*args: Any, **kwargs: Any) -> Any:
            if self.loss is None:
                rest, positional = dict(kwargs), list(args)
                prediction = positional.pop(0) if positional else rest.pop("logits", rest.pop("predictions", None))
                target = positional.pop(0) if positional else rest.pop("labels", rest.pop("targets", None))
                if prediction is not None and target is not None:
                    self.loss = (name, prediction, target, tuple(positional), rest)
            return original(*args, **kwargs)

        return loss


def _find_prediction(outputs: Any, prediction: Any) -> tuple[Any, Any]:
    """(the output leaf the loss was given, its tree path): equal values first, then equal
    size (a reshape)."""
    leaves = [(path, leaf) for path, leaf in jax.tree_util.tree_flatten_with_path(outputs)[0]
              if hasattr(leaf, "shape")]
    wanted = np.asarray(prediction)
    for test in (lambda leaf: leaf.shape == wanted.shape and np.array_equal(np.asarray(leaf), wanted),
                 lambda leaf: leaf.size == wanted.size and np.array_equal(np.asarray(leaf).ravel(), wanted.ravel())):
        for path, leaf in leaves:
            if test(leaf):
                return leaf, path
    return None, None


def _at(tree: Any, path: Any) -> Any:
    """The leaf of `tree` at a path of jax.tree_util keys."""
    for entry in path:
        if isinstance(entry, jax.tree_util.GetAttrKey):
            tree = getattr(tree, entry.name)
        else:
            tree = tree[entry.key if isinstance(entry, jax.tree_util.DictKey) else entry.idx]
    return tree


def _name(step: JitWrapper) -> str:
    return getattr(step, "__name__", "step")
