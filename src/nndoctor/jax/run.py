"""`nndoctor run train_flax.py` for JAX: the script runs unchanged while, for the run,

* optax's optimizer constructors (optax.adam, adamw, sgd, chain, …) return watched
  transformations (nndoctor.jax.optax_watch; nested ones pass through, the outermost
  measures), named by their constructor call;
* `jax.value_and_grad` / `jax.grad` (which flax.nnx's grad transforms call too) send the
  loss of every call to the host, and — only when the loss or a gradient is NaN/Inf —
  that call's arguments, so the step can be replayed under jax_debug_nans;
* `jax.random.bernoulli` (what Flax Dropout draws its masks with) reports the key it was
  given, so a dropout key reused step after step is seen (dropout-key-reused);
* when the run is recorded, nndoctor.jax.run_facts notes the optimizers' settings, seeds,
  the model and the first batch's fingerprint (`facts`).

Everything is restored when the script ends.
"""
from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from nndoctor.core.capability import Selection
from nndoctor.core.report import Report
from nndoctor.jax.doctor import JaxDoctor
from nndoctor.jax.eval_losses import EvalLossCapture
from nndoctor.jax.model import path_name
from nndoctor.jax.optax_names import remember
from nndoctor.jax.optax_watch import watched
from nndoctor.jax.replay import replay
from nndoctor.jax.run_preflight import PreflightCapture
from nndoctor.live.state_origin import state_origin

OPTAX_CONSTRUCTORS = (
    "adam", "adamw", "sgd", "rmsprop", "adagrad", "adabelief", "adamax", "adamaxw", "amsgrad", "lamb", "lars",
    "lion", "nadam", "nadamw", "novograd", "radam", "yogi", "adafactor", "noisy_sgd", "fromage", "adadelta",
    "sm3", "chain",
)
_OWN_DIR = str(Path(__file__).resolve().parents[1])
# "depth": nndoctor's own work (a preflight inside the run) is not the user's training;
# "grads": inside flax.nnx's grad transforms, whose inner jax.value_and_grad is not the
# user's call (the NNX-level wrapper records it, with the modules it can replay).
_PAUSED = {"depth": 0, "grads": 0}


class paused:
    """Inside this block the run's patches pass straight through."""

    def __init__(self, what: tuple[str, ...] = ("depth", "grads")) -> None:
        self.what = what

    def __enter__(self) -> None:
        for name in self.what:
            _PAUSED[name] += 1

    def __exit__(self, *exc: Any) -> None:
        for name in self.what:
            _PAUSED[name] -= 1


def _call_text(name: str, args: tuple, kwargs: dict[str, Any]) -> str:
    shown = [f"{a:g}" if isinstance(a, float) else repr(a) for a in args if isinstance(a, (int, float, str))]
    shown += [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in kwargs.items()
              if isinstance(v, (int, float, str, bool))]
    return f"{name}({', '.join(shown)})"


def is_paused() -> bool:
    return _PAUSED["depth"] > 0


class JaxRunWatcher:
    def __init__(self, doctor: JaxDoctor, facts: Any = None, preflight: PreflightCapture | None = None) -> None:
        self.doctor = doctor
        self.facts = facts
        self.preflight = preflight
        self._saved: list[tuple[Any, str, Any]] = []
        self._captured: dict[str, Any] | None = None
        self.eval_losses = EvalLossCapture(doctor, _PAUSED)

    # ----------------------------------------------------------------- install
    def _patch(self, namespace: Any, name: str, replacement: Any) -> None:
        self._saved.append((namespace, name, getattr(namespace, name)))
        setattr(namespace, name, replacement)

    def install(self) -> None:
        for name in OPTAX_CONSTRUCTORS:
            if hasattr(optax, name):
                self._patch(optax, name, self._constructor(name, getattr(optax, name)))
        # The originals first: jax.grad built on the patched value_and_grad would count each
        # step twice.
        jax_value_and_grad, nnx_value_and_grad = jax.value_and_grad, nnx.value_and_grad
        self._patch(jax, "value_and_grad", self._value_and_grad(jax_value_and_grad))
        self._patch(jax, "grad", self._grad(jax_value_and_grad))
        self._patch(nnx, "value_and_grad", self._value_and_grad(nnx_value_and_grad, nested=True))
        self._patch(nnx, "grad", self._grad(nnx_value_and_grad, nested=True))
        self._patch(jax.random, "bernoulli", self._bernoulli(jax.random.bernoulli))
        self.eval_losses.install(self._patch)
        self.doctor.replay = self._replay
        if self.facts is not None:
            self.facts.install()
        if self.preflight is not None:
            self.preflight.selection = self.doctor.judge.rule_set.selection
            self._patch(jax, "jit", self.preflight.jit_constructor(jax.jit))
            self._patch(nnx, "jit", self.preflight.jit_constructor(nnx.jit))

    def uninstall(self) -> None:
        if self.facts is not None:
            self.facts.uninstall()
        for namespace, name, original in reversed(self._saved):
            setattr(namespace, name, original)
        self._saved.clear()

    def finish(self) -> Report:
        self.uninstall()
        return self.doctor.finish()

    # ----------------------------------------------------------------- optimizers
    def _constructor(self, name: str, original: Any) -> Any:
        doctor, facts = self.doctor, self.facts

        def make(*args: Any, **kwargs: Any) -> Any:
            tx = original(*args, **kwargs)
            if _PAUSED["depth"]:
                return tx
            wrapped = watched(tx, doctor, every=doctor.every, mode="callback")
            remember(wrapped, _call_text(name, args, kwargs))
            if facts is not None:
                facts.on_optimizer(name, original, args, kwargs, wrapped)
            if self.preflight is not None:
                self.preflight.optimizer = tx  # the last built is the outermost (chain)
                remember(tx, _call_text(name, args, kwargs))
            return wrapped

        make.__wrapped__ = original  # type: ignore[attr-defined]
        make.__doc__ = original.__doc__
        return make

    # ----------------------------------------------------------------- losses and replay
    def _observe(self, function: Any, argnums: Any, has_aux: bool, options: dict[str, Any], original: Any,
                 args: tuple, kwargs: dict[str, Any], value: Any, grads: Any) -> None:
        loss = value[0] if has_aux else value
        if getattr(loss, "ndim", None) != 0 or _PAUSED["depth"] or _PAUSED["grads"]:
            return
        doctor = self.doctor
        if self.preflight is not None:
            self.preflight.on_training_grad()
        # A loss closure usually holds the batch of the traced step (`lambda m: loss(m(x), y)`):
        # those cells travel too, so the function can be rebuilt around concrete arrays.
        cells = list(getattr(function, "__closure__", None) or ())
        words = self._batch_words(function, args, argnums, cells)
        if words is None:
            jax.debug.callback(doctor.on_loss, loss)
        else:
            # The first batch's leading values travel in the loss's own callback, packed with
            # it in one uint32 array: a second callback argument cost ~0.25 ms a step on CPU,
            # the packed one nothing measurable (benchmarks/overhead_jax.py).
            facts = self.facts
            bits = jax.lax.bitcast_convert_type(loss.astype(jnp.float32), jnp.uint32)
            packed = jnp.concatenate([bits.reshape(1), words])

            def loss_and_batch(values: Any) -> None:
                values = np.asarray(values, np.uint32)
                doctor.on_loss(values[:1].view(np.float32))
                facts.on_batch_words(values[1:])

            jax.debug.callback(loss_and_batch, packed)
        if self._captured is not None:
            return
        # NNX modules travel as (static graph, array state) and are merged again to replay.
        graphs = {i: nnx.split(arg) for i, arg in enumerate(args) if isinstance(arg, nnx.Module)}
        data = [nnx.to_pure_dict(graphs[i][1]) if i in graphs else arg for i, arg in enumerate(args)]
        traced = [i for i, cell in enumerate(cells) if _holds_arrays(cell)]
        flat, treedef = jax.tree_util.tree_flatten((data, kwargs, [cells[i].cell_contents for i in traced]))
        arrays = [i for i, leaf in enumerate(flat) if isinstance(leaf, (jax.Array, np.ndarray))]
        finite = jnp.isfinite(loss)
        for leaf in jax.tree_util.tree_leaves(grads):
            if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.inexact):
                finite = finite & jnp.all(jnp.isfinite(leaf))

        def keep(*values: Any) -> None:
            if self._captured is None:
                filled = list(flat)
                for index, value in zip(arrays, values):
                    filled[index] = np.asarray(value)
                self._captured = {"function": function, "argnums": argnums, "has_aux": has_aux, "options": options,
                                  "losses_before": doctor.losses_logged,
                                  "original": original, "treedef": treedef, "leaves": filled,
                                  "graphs": {i: graph for i, (graph, _) in graphs.items()}, "traced_cells": traced}

        jax.lax.cond(finite, lambda: None, lambda: jax.debug.callback(keep, *[flat[i] for i in arrays]))

    def _batch_words(self, function: Any, args: tuple, argnums: Any, cells: list[Any]) -> Any:
        facts = self.facts
        if facts is None:
            return None
        for arg in args:
            if isinstance(arg, nnx.Module):
                facts.note_model(type(arg).__name__)
        names = getattr(getattr(function, "__code__", None), "co_freevars", ())
        closure = []
        for name, cell in zip(names, cells):
            try:
                closure.append((name, cell.cell_contents))
            except ValueError:  # an empty cell
                continue
        with self.doctor.faults.guard("first batch fingerprint"):
            return facts.batch_words(function, args, argnums, closure)
        return None

    def _replay(self) -> dict[str, Any] | None:
        captured = self._captured
        if captured is None:
            return None
        data, kwargs, cell_values = jax.tree_util.tree_unflatten(captured["treedef"], captured["leaves"])
        args = [nnx.merge(captured["graphs"][i], value) if i in captured["graphs"] else value
                for i, value in enumerate(data)]
        floats = [leaf for leaf in jax.tree_util.tree_leaves((args, kwargs, cell_values))
                  if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" and leaf.size]
        if any(not np.isfinite(leaf).all() for leaf in floats):
            return self._non_finite_argument(data, captured["argnums"])
        function = captured["original"](_with_cells(captured["function"], captured["traced_cells"], cell_values),
                                        argnums=captured["argnums"],
                                        has_aux=captured["has_aux"], **captured["options"])
        with paused():
            found = replay(lambda: jax.block_until_ready(function(*args, **kwargs))) or {}
        # Huge but finite parameters or inputs: the NaN is an overflow (non-finite reads it).
        found["largest_input"] = max((float(np.abs(leaf).max()) for leaf in floats), default=None)
        return found

    def _non_finite_argument(self, data: list[Any], argnums: Any) -> dict[str, Any]:
        """Where the NaN/Inf sat when the step began: in what is differentiated (the
        parameters, or the model's state, BatchNorm statistics included) or in the rest (the
        batch)."""
        wrt = {argnums} if isinstance(argnums, int) else set(argnums)
        damaged = []
        for index, value in enumerate(data):
            if index in wrt:
                for path, leaf in jax.tree_util.tree_flatten_with_path(value)[0]:
                    if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f" and not np.isfinite(leaf).all():
                        damaged.append(path_name(path))
        if not damaged:
            return {"origin": "input", "module": None,
                    "detail": "the batch given to the training step already held NaN/Inf"}
        return state_origin(damaged, damaged[-1].rsplit("/", 1)[0],
                            statistics_only=all(name.rsplit("/", 1)[-1] in BATCH_STATISTICS for name in damaged),
                            after_finite_steps=self._captured.get("losses_before", 0) > 1)

    def _stop_for_preflight(self, function: Any, has_aux: bool, args: tuple, kwargs: dict[str, Any]) -> None:
        """In preflight's eager replay of the training step: stop at its gradient call."""
        if self.preflight is not None and self.preflight.armed and not (_PAUSED["depth"] or _PAUSED["grads"]):
            self.preflight.stop(function, has_aux, args, kwargs)

    def _value_and_grad(self, original: Any, nested: bool = False) -> Any:
        watcher = self

        def value_and_grad(fun: Any, argnums: Any = 0, has_aux: bool = False, **options: Any) -> Any:
            transformed = original(fun, argnums=argnums, has_aux=has_aux, **options)

            def watched_value_and_grad(*args: Any, **kwargs: Any) -> Any:
                watcher._stop_for_preflight(fun, has_aux, args, kwargs)
                value, grads = watcher._transformed(transformed, nested, has_aux, args, kwargs)
                with watcher.doctor.faults.guard("loss capture"):
                    watcher._observe(fun, argnums, has_aux, options, original, args, kwargs, value, grads)
                return value, grads

            return watched_value_and_grad

        value_and_grad.__wrapped__ = original  # type: ignore[attr-defined]
        return value_and_grad

    def _transformed(self, transformed: Any, nested: bool, has_aux: bool, args: tuple,
                     kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """The user's gradient call; the optax losses it traces are training losses, and so
        are those of the jitted function it sits in (its metrics)."""
        self.eval_losses.grad_depth += 1
        try:
            with paused(("grads",) if nested else ()):
                value, grads = transformed(*args, **kwargs)
        finally:
            self.eval_losses.grad_depth -= 1
        with self.doctor.faults.guard("validation loss capture"):
            self.eval_losses.training(value[0] if has_aux else value)
        return value, grads

    def _grad(self, original_value_and_grad: Any, nested: bool = False) -> Any:
        watcher = self

        def grad(fun: Any, argnums: Any = 0, has_aux: bool = False, **options: Any) -> Any:
            transformed = original_value_and_grad(fun, argnums=argnums, has_aux=has_aux, **options)

            def watched_grad(*args: Any, **kwargs: Any) -> Any:
                watcher._stop_for_preflight(fun, has_aux, args, kwargs)
                value, grads = watcher._transformed(transformed, nested, has_aux, args, kwargs)
                with watcher.doctor.faults.guard("loss capture"):
                    watcher._observe(fun, argnums, has_aux, options, original_value_and_grad, args, kwargs,
                                     value, grads)
                return (grads, value[1]) if has_aux else grads

            return watched_grad

        return grad

    # ----------------------------------------------------------------- dropout keys
    def _bernoulli(self, original: Any) -> Any:
        doctor = self.doctor

        def bernoulli(key: Any, p: Any = 0.5, shape: Any = None, *args: Any, **kwargs: Any) -> Any:
            if not _PAUSED["depth"]:
                with doctor.faults.guard("dropout key check"):
                    site = _caller_site()
                    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
                    jax.debug.callback(lambda k: doctor.on_dropout_key(k, site), data)
            return original(key, p, shape, *args, **kwargs)

        bernoulli.__wrapped__ = original  # type: ignore[attr-defined]
        return bernoulli


# The leaf names of running statistics in Flax's BatchNorm (NNX and Linen): state, not parameters.
BATCH_STATISTICS = ("mean", "var")


def _holds_arrays(cell: Any) -> bool:
    try:
        contents = cell.cell_contents
    except ValueError:  # an empty cell
        return False
    return any(isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(contents))


def _with_cells(function: Any, positions: list[int], values: list[Any]) -> Any:
    """`function` with the closure cells at `positions` holding `values` instead."""
    if not positions:
        return function
    cells = list(function.__closure__)
    for position, value in zip(positions, values):
        cells[position] = types.CellType(value)
    rebuilt = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                                 function.__defaults__, tuple(cells))
    rebuilt.__kwdefaults__ = function.__kwdefaults__
    return rebuilt


def _caller_site() -> str:
    """The Flax layer (or the user's line) drawing the mask, found at trace time."""
    from nndoctor.jax.replay import _module_of

    frame = sys._getframe(2)
    while frame is not None:
        module = _module_of(frame)
        if module is not None:
            return module
        if not frame.f_code.co_filename.startswith((_OWN_DIR, str(Path(jax.__file__).parent))):
            return f"{Path(frame.f_code.co_filename).name}:{frame.f_lineno}"
        frame = frame.f_back
    return "unknown"


def run_jax_script(*, script: str | None, module: str | None, args: list[str], every: int, selection: Selection,
                   live: bool, stop_on: str | None, recording: Any = None,
                   preflight: PreflightCapture | None = None) -> Any:
    """Run the script watched; when `recording` is a started Recording, its heartbeats
    follow the run and the report's context gets the run's facts (nndoctor.jax.run_facts);
    with `preflight` (see nndoctor.jax.run_preflight) its report joins the run's."""
    from nndoctor.live.script_runner import run_script

    doctor = JaxDoctor(every=every, selection=selection, live=live, stop_on=stop_on, command="run")
    facts = None
    if getattr(recording, "id", None) is not None:
        from nndoctor.jax.run_facts import JaxRunFacts

        facts = JaxRunFacts()
        recording.follow(doctor)
    result = run_script(JaxRunWatcher(doctor, facts, preflight), script=script, module=module, args=args)
    if preflight is not None:
        preflight.merge_into(result.report)
    if facts is not None:
        facts.describe(result.report, doctor)
    return result


def preflight_capture(printer: Any) -> PreflightCapture:
    return PreflightCapture(printer, paused, is_paused)


__all__ = ["JaxRunWatcher", "paused", "preflight_capture", "run_jax_script"]
