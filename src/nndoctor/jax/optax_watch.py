"""`nndoctor.jax.watch(optimizer)`: an optax GradientTransformation that also measures.

    tx = nndoctor.jax.watch(optax.adam(1e-3))          # use it wherever the optimizer went
    for step, batch in enumerate(data):
        params, opt_state, loss = train_step(params, opt_state, batch)   # jitted, unchanged
        tx.log(loss=loss, opt_state=opt_state)         # (nnx: optimizer.opt_state); val_loss=...
    report = tx.report()

Every `every`-th update (inside jit, `lax.cond`) the wrapper takes per-leaf gradient,
update and parameter L2 norms; other updates only increment a counter (on CPU, XLA may
compute a branch this cheap at every step anyway: one reduction per leaf and tree is kept).
The numbers leave jit one of two ways:

* mode="aux" (default): kept in the optimizer state (`WatchState.stats`, one vector) and
  read by the host when `tx.log(..., opt_state=state)` is given the state — no callback,
  one device-to-host copy per sample;
* mode="callback": `jax.debug.callback` from inside the sampled branch (no state to pass,
  but a jitted step with a callback effect leaves jax's fast C++ dispatch: measured ~1 ms
  more per step on CPU, sampled or not).

benchmarks/overhead_jax.py measures both against the plain optimizer.
"""
from __future__ import annotations

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
_NESTING = {"depth": 0}  # watched transformations inside a watched chain only pass through


class WatchState(NamedTuple):
    count: Any  # updates so far (int32)
    inner: Any  # the wrapped optimizer's state
    stats: Any  # aux mode: (step, grad/update/param norms of every leaf in one vector); else ()


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


def watched(inner: Any, doctor: JaxDoctor, *, every: int, mode: str) -> WatchedOptimizer:
    def init(params: Any) -> WatchState:
        names = leaf_names(params)
        doctor.describe_parameters(names, [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(params)])
        stats: Any = ()
        if mode == "aux":
            stats = (jnp.asarray(-1, jnp.int32), jnp.zeros((3 * len(names),), jnp.float32))
        return WatchState(jnp.zeros((), jnp.int32), inner.init(params), stats)

    def update(grads: Any, state: WatchState, params: Any = None, **extra: Any) -> tuple[Any, WatchState]:
        outermost = _NESTING["depth"] == 0
        _NESTING["depth"] += 1
        try:
            updates, inner_state = inner.update(grads, state.inner, params, **extra)
        finally:
            _NESTING["depth"] -= 1
        if not outermost:
            return updates, WatchState(state.count + 1, inner_state, state.stats)
        sampled = state.count % every == 0
        has_params = params is not None
        # Names and shapes from the gradient tree itself (static at trace time), so that a
        # transformation built inside another (inject_hyperparams) needs no init of its own.
        names = leaf_names(grads)
        shapes = [tuple(np.shape(leaf)) for leaf in jax.tree_util.tree_leaves(grads)]

        def sampled_updates() -> Any:
            # The updates again, inside the sampled branch (optax transformations are pure:
            # the same grads, state and params give the same updates). Reading the step's own
            # updates there made XLA keep them in memory at every step instead of fusing them
            # into apply_updates: +6–8% step time on a CPU MLP, against one more optimizer
            # update on sampled steps only.
            _NESTING["depth"] += 1
            try:
                return inner.update(grads, state.inner, params, **extra)[0]
            finally:
                _NESTING["depth"] -= 1

        if mode == "callback":
            def emit() -> None:
                values = _statistics(state.count, grads, sampled_updates(), params)
                jax.debug.callback(lambda *v: doctor.on_statistics(*v, has_params, names, shapes), *values)

            jax.lax.cond(sampled, emit, lambda: None)
            stats = state.stats
        else:
            stats = jax.lax.cond(sampled, lambda: _statistics(state.count, grads, sampled_updates(), params),
                                 lambda: state.stats)
        return updates, WatchState(state.count + 1, inner_state, stats)

    def read_state(opt_state: Any) -> None:
        """aux mode: record the statistics held in `opt_state`, at every `every`-th log call
        (reading them is a device-to-host copy, so it is not done at every step)."""
        if doctor.losses_logged % every:
            return
        found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, WatchState))
                 if isinstance(s, WatchState) and s.stats != ()]
        if not found:
            return
        count, norms = found[0].stats
        step = int(count)
        if step >= 0 and step != getattr(read_state, "last", None):
            read_state.last = step  # type: ignore[attr-defined]
            norms = np.asarray(norms)
            doctor.on_statistics(step, norms, bool(norms[2 * len(doctor.names):].any()), doctor.names, doctor.shapes)

    update.doctor = doctor  # type: ignore[attr-defined]
    update.read_state = read_state  # type: ignore[attr-defined]
    tx = WatchedOptimizer(init, update)
    remember(tx, describe(inner))
    return tx


def watch(optimizer: Any, *, every: int = 10, mode: str = "aux", select: Any = None, ignore: Any = None,
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
