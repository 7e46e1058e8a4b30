"""`nndoctor.jax.watch(optimizer)`: an optax GradientTransformation that also measures.

    tx = nndoctor.jax.watch(optax.adam(1e-3))          # use it wherever the optimizer went
    for step, batch in enumerate(data):
        params, opt_state, loss = train_step(params, opt_state, batch)   # jitted, unchanged
        tx.log(loss=loss, opt_state=opt_state)         # (nnx: optimizer.opt_state); val_loss=...
    report = tx.report()

Every `every`-th update (default 20; inside jit, `lax.cond`, ordered before the optimizer's
own update) the wrapper takes per-leaf gradient, update and parameter L2 norms; other updates only
increment a counter (measured: an unsampled watched step costs what a plain one does).
The numbers leave jit one of two ways:

* mode="aux" (default): the last SAMPLES_KEPT samples are kept in the optimizer state
  (`WatchState.stats`, one array) and found by `tx.log(..., opt_state=state)` every
  `every`-th call; they are copied to the host together every SAMPLES_KEPT samples or
  READ_SECONDS — no callback, one small device-to-host copy for up to 16 samples;
* mode="callback": `jax.debug.callback` from inside the sampled branch (no state to pass,
  but a jitted step with a callback effect leaves jax's fast C++ dispatch: measured ~1 ms
  more per step on CPU, sampled or not).

benchmarks/overhead_jax.py measures both against the plain optimizer.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndoctor.core.capability import Selection
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report
from nndoctor.jax.doctor import JaxDoctor
from nndoctor.jax.model import leaf_names
from nndoctor.jax.optax_names import describe, remember

MODES = ("callback", "aux")
# aux mode keeps this many samples in the state, so that the host reads them in one
# device-to-host copy every SAMPLES_KEPT samples (or every READ_SECONDS), not one per sample.
SAMPLES_KEPT = 16
READ_SECONDS = 2.0
_NESTING = {"depth": 0}  # watched transformations inside a watched chain only pass through


class WatchState(NamedTuple):
    count: Any  # updates so far (int32)
    inner: Any  # the wrapped optimizer's state
    stats: Any  # aux mode: the last SAMPLES_KEPT samples, rows [step (int32 bits), grad, update, param norms]


class WatchedOptimizer(optax.GradientTransformationExtraArgs):
    """An optax transformation with the doctor attached: `log(...)`, `report()`."""

    __slots__ = ()

    @property
    def doctor(self) -> JaxDoctor:
        return self.update.doctor  # type: ignore[attr-defined]

    def log(self, loss: Any = None, val_loss: Any = None, step: int | None = None, opt_state: Any = None) -> None:
        if opt_state is not None:
            self.update.read_state(opt_state)  # type: ignore[attr-defined]
        self.doctor.log(loss=loss, val_loss=val_loss, step=step)

    def report(self) -> Report:
        if self.doctor.finished is None:
            self.update.read_last_state()  # type: ignore[attr-defined]
        return self.doctor.finish()


def _norms(tree: Any) -> Any:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        return jnp.zeros((0,), jnp.float32)
    return jnp.stack([jnp.sqrt(jnp.sum(jnp.square(leaf.astype(jnp.float32)))) for leaf in leaves])


def _statistics(count: Any, grads: Any, updates: Any, params: Any) -> tuple[Any, Any]:
    """(count, the gradient, update and parameter L2 norms of every leaf in one vector).

    One reduction per leaf and tree: on CPU, XLA computes a conditional this cheap at every
    step (it turns it into a select), so each extra pass over the parameters costs at every
    step. One vector, so that reading a sample is one device-to-host copy rather than one
    per statistic; the host derives the rest (a leaf holds NaN/Inf exactly when its norm is
    NaN, or Inf without overflow; the largest parameter norm bounds every |param|)."""
    grad_norms = _norms(grads)
    update_norms = _norms(updates)
    param_norms = _norms(params) if params is not None else jnp.zeros_like(grad_norms)
    return count, jnp.concatenate([grad_norms, update_norms, param_norms])


def _packed(count: Any, norms: Any) -> Any:
    """The step and the norms as one float32 vector (the step's int32 bits first, exact), so
    that reading a sample is one transfer."""
    return jnp.concatenate([jax.lax.bitcast_convert_type(count.astype(jnp.int32), jnp.float32)[None], norms])


def watched(inner: Any, doctor: JaxDoctor, *, every: int, mode: str) -> WatchedOptimizer:
    def init(params: Any) -> WatchState:
        names = leaf_names(params)
        doctor.describe_parameters(names, [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params)])
        stats: Any = ()
        if mode == "aux":
            empty = _packed(jnp.asarray(-1, jnp.int32), jnp.zeros((3 * len(names),), jnp.float32))
            stats = jnp.tile(empty, (SAMPLES_KEPT, 1))
        return WatchState(jnp.zeros((), jnp.int32), inner.init(params), stats)

    def update(grads: Any, state: WatchState, params: Any = None, **extra: Any) -> tuple[Any, WatchState]:
        outermost = _NESTING["depth"] == 0
        if not outermost:
            updates, inner_state = inner.update(grads, state.inner, params, **extra)
            return updates, WatchState(state.count + 1, inner_state, state.stats)
        sampled = state.count % every == 0
        has_params = params is not None
        # Names and shapes from the gradient tree itself (static at trace time), so that a
        # transformation built inside another (inject_hyperparams) needs no init of its own.
        names = leaf_names(grads)
        shapes = [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(grads)]

        def inner_update(grads: Any, inner_state: Any, params: Any) -> tuple[Any, Any]:
            _NESTING["depth"] += 1
            try:
                return inner.update(grads, inner_state, params, **extra)
            finally:
                _NESTING["depth"] -= 1

        def sampled_statistics() -> tuple[Any, Any]:
            # The updates again, inside the sampled branch (optax transformations are pure:
            # the same grads, state and params give the same updates). Reading the step's own
            # updates here would make XLA keep them in memory at every step instead of fusing
            # them into apply_updates: +6–8% step time on a CPU MLP, against one more
            # optimizer update on sampled steps only.
            return _statistics(state.count, grads, inner_update(grads, state.inner, params)[0], params)

        if mode == "callback":
            def emit() -> None:
                values = sampled_statistics()
                jax.debug.callback(lambda *v: doctor.on_statistics(*v, has_params, names, shapes), *values)

            jax.lax.cond(sampled, emit, lambda: None)
            stats = state.stats
            operands = (grads, state.inner, params)
        else:
            row = (state.count // every) % SAMPLES_KEPT
            stats = jax.lax.cond(sampled, lambda: state.stats.at[row].set(_packed(*sampled_statistics())),
                                 lambda: state.stats)
            # The optimizer's own update runs after the statistics (the barrier orders them):
            # a conditional reading the old grads, state and parameters after the update had
            # been computed kept all of them alive to the end of the step (+2–3% on a CPU MLP,
            # sampled or not), and with donated buffers would need copies of them.
            *operands, stats = jax.lax.optimization_barrier((grads, state.inner, params, stats))
        updates, inner_state = inner_update(*operands)
        return updates, WatchState(state.count + 1, inner_state, stats)

    reading: dict[str, Any] = {"last_step": -1, "last_time": time.monotonic(), "stats": None}

    def read_state(opt_state: Any) -> None:
        """aux mode: at every `every`-th log call, find the statistics in `opt_state`; read
        the new samples every SAMPLES_KEPT × `every` calls or READ_SECONDS (reading is a
        device-to-host copy: one for up to SAMPLES_KEPT samples)."""
        logged = doctor.losses_logged
        if logged % every:
            return
        found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, WatchState))
                 if isinstance(s, WatchState) and not isinstance(s.stats, tuple)]
        if not found:
            return
        # Only these small arrays are kept (for report()), never the state: holding the
        # optimizer state would keep a second copy of it alive.
        previous, reading["stats"] = reading["stats"], found[0].stats
        if logged % (every * SAMPLES_KEPT) == 0 or time.monotonic() - reading["last_time"] >= READ_SECONDS:
            # The statistics found `every` updates ago when they are still there: those of
            # this state may still be computing, and reading them would wait for the step
            # (the samples since come with the next read). A donated state deletes them.
            record(previous if previous is not None and not previous.is_deleted() else reading["stats"])

    def record(stats: Any) -> None:
        reading["last_time"] = time.monotonic()
        rows = np.asarray(stats)  # the one device-to-host copy of these samples
        steps = rows[:, 0].copy().view(np.int32)
        for index in np.argsort(steps):
            step = int(steps[index])
            if step > reading["last_step"]:
                reading["last_step"] = step
                norms = rows[index, 1:]
                doctor.on_statistics(step, norms, bool(norms[2 * len(doctor.names):].any()), doctor.names,
                                     doctor.shapes)

    def read_last_state() -> None:
        """The samples not read yet, from the statistics last found (unless the script
        donated that state to a later step, which deletes its arrays)."""
        stats = reading["stats"]
        if mode == "aux" and stats is not None and not stats.is_deleted():
            with doctor.faults.guard("optax wrapper statistics"):
                record(stats)

    update.doctor = doctor  # type: ignore[attr-defined]
    update.read_state = read_state  # type: ignore[attr-defined]
    update.read_last_state = read_last_state  # type: ignore[attr-defined]
    if mode == "aux":
        doctor.pull_statistics = read_last_state
    tx = WatchedOptimizer(init, update)
    remember(tx, describe(inner))
    return tx


# A sampled update costs one more optimizer update (the statistics need the updates, and
# reading the step's own would keep them in memory at every step) plus three norms per leaf:
# measured on a jit-compiled CPU MLP (benchmarks/overhead_jax.py), +24% and +7% of a step, and
# the host's reading of the sample ~+2% at every=10. Every 20th update keeps the wrapper under
# 2–3% there and still gives the sampled-update rules their 5–10 samples within 200 updates
# (the torch adapter's hooks cost less per sample and sample every 10th).
DEFAULT_EVERY = 20


def watch(optimizer: Any, *, every: int = DEFAULT_EVERY, mode: str = "aux", select: Any = None, ignore: Any = None,
          thresholds: dict[str, dict[str, Any]] | None = None, live: bool = True,
          stop_on: str | None = None) -> WatchedOptimizer:
    """Wrap an optax optimizer so that training is diagnosed while it runs (see module doc)."""
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise UsageError(f"watch() expects an optax GradientTransformation, got {type(optimizer).__name__}")
    if not isinstance(every, int) or every < 1:
        raise UsageError(f"every must be a positive whole number of updates, got {every!r}")
    if mode not in MODES:
        raise UsageError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    doctor = JaxDoctor(every=every, selection=Selection.resolve(select, ignore, thresholds=thresholds), live=live,
                       stop_on=stop_on)
    return watched(optimizer, doctor, every=every, mode=mode)
