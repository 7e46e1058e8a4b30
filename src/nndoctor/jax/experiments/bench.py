"""The preflight workbench for JAX: the user's model as pure functions, and compiled
training loops for the experiments.

Training runs `CHUNK_STEPS` updates per compiled call (`lax.scan`), so a 200-step overfit
run is 8 calls, not 200 dispatches; the losses of a chunk are read back together and the
run is cut where it would have stopped (loss at the floor, or non-finite). One compiled
loop exists per (optimizer, batch shape), shared by every experiment that needs it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndoctor.core.capability import MeasurementUnavailable
from nndoctor.core.preflight_protocol import REFERENCE_LEARNING_RATE, stop_level, truncate_losses
from nndoctor.jax.model import FunctionalModel

CHUNK_STEPS = 25


class ExperimentUnavailable(MeasurementUnavailable):
    """An experiment cannot say anything about this model (the reason is shown to the user)."""


@dataclass
class Batch:
    inputs: Any
    targets: Any
    n_samples: int

    def slice(self, count: int) -> Batch:
        take = lambda tree: jax.tree_util.tree_map(  # noqa: E731
            lambda leaf: leaf[:count] if getattr(leaf, "ndim", 0) and leaf.shape[0] == self.n_samples else leaf, tree)
        return Batch(take(self.inputs), take(self.targets), min(count, self.n_samples))


@dataclass
class Bench:
    model: FunctionalModel
    batch: Batch
    loss_fn: Callable[[Any, Any], Any]
    optimizer: Any
    steps: int
    seed: int
    results: dict[str, Any] = field(default_factory=dict)
    _loops: dict[tuple[int, bool], Callable] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.reference = optax.adam(REFERENCE_LEARNING_RATE)
        self.apply = jax.jit(self.model.apply, static_argnums=4)
        self.gradient = jax.jit(jax.grad(lambda p, s, x, y, k: self.loss(p, s, x, y, k)[0]))

    @property
    def key(self) -> jax.Array:
        return jax.random.key(self.seed)

    def loss(self, params: Any, state: Any, inputs: Any, targets: Any, key: Any, train: bool = True) -> tuple[Any, Any]:
        outputs, new_state = self.model.apply(params, state, inputs, key, train)
        return jnp.asarray(self.loss_fn(outputs, targets), jnp.float32).reshape(()), new_state

    def _loop(self, tx: Any, fresh: bool) -> Callable:
        """A compiled run of CHUNK_STEPS updates: (params, state, opt_state, key, inputs,
        targets) → (..., losses before each update)."""
        cache_key = (id(tx), fresh)
        if cache_key in self._loops:
            return self._loops[cache_key]

        def one_step(carry: tuple, _: Any) -> tuple[tuple, Any]:
            params, state, opt_state, key, inputs, targets = carry
            key, step_key = jax.random.split(key)
            (value, new_state), grads = jax.value_and_grad(self.loss, has_aux=True)(
                params, state, inputs, targets, step_key)
            updates, opt_state = tx.update(grads, opt_state, params)
            params = optax.apply_updates(params, updates)
            return (params, new_state, opt_state, key, inputs, targets), value

        def chunk(params: Any, state: Any, opt_state: Any, key: Any, inputs: Any, targets: Any) -> tuple:
            carry, losses = jax.lax.scan(one_step, (params, state, opt_state, key, inputs, targets),
                                         None, length=CHUNK_STEPS)
            return carry[:4] + (losses,)

        compiled = jax.jit(chunk)
        if not fresh:
            self._loops[cache_key] = compiled
        return compiled

    def train(self, tx: Any, inputs: Any, targets: Any, steps: int, *, floor: float | None = None,
              stop_fraction: float = 0.0, params: Any = None, state: Any = None, opt_state: Any = None,
              fresh: bool = False) -> tuple[list[float], Any, Any, Any]:
        """Up to `steps` updates on one batch from the model's initial weights (or the given
        ones); returns (the loss before each update and after the last, params, state,
        opt_state). Stops at a non-finite loss or once within `stop_fraction` of the
        initial distance to `floor`. `fresh` compiles anew (a second trace of the model)."""
        params = self.model.params if params is None else params
        state = self.model.state if state is None else state
        opt_state = tx.init(params) if opt_state is None else opt_state
        loop = self._loop(tx, fresh)
        key = self.key
        losses: list[float] = []
        stop_at = None
        while len(losses) <= steps:
            params, state, opt_state, key, chunk_losses = loop(params, state, opt_state, key, inputs, targets)
            losses.extend(float(v) for v in np.asarray(chunk_losses))
            if stop_at is None and losses:
                stop_at = stop_level(losses[0], floor, stop_fraction)
            cut = truncate_losses(losses[: steps + 1], stop_at)
            if len(cut) < min(len(losses), steps + 1):
                return cut, params, state, opt_state
        return losses[: steps + 1], params, state, opt_state

    def outputs(self, params: Any, inputs: Any, train: bool = False) -> Any:
        return self.apply(params, self.model.state, inputs, self.key, train)[0]


def describe_optax(tx: Any) -> str:
    """A short name for an optax transformation: from nndoctor's record of the constructor
    call when `nndoctor run` made it, else the transformations found in its closures."""
    from nndoctor.jax.optax_names import describe

    return describe(tx)
