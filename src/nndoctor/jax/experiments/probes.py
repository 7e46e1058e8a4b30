"""Single-shot probes of the model's wiring:

* gradients: one gradient and one step of the user's optimizer from the initial weights:
  which leaves get an all-zero gradient (`jax.lax.stop_gradient`, an unused layer) and
  which do not move although their gradient is not zero (an `optax.masked` /
  `set_to_zero` leaf, a zero learning rate) → `parameter_status`;
* batch mixing: the Jacobian (`jax.jacrev`) of the first and last sample's outputs with
  respect to every sample's input; independent samples give exact zeros → `batch_mixing`;
* determinism: two 3-step runs from the same weights and key on the overfit batch, the
  second traced afresh, so that randomness outside JAX's keys (numpy, `random`, the clock
  at trace time) shows → `determinism`. JAX's own randomness is keyed, so dropout is off
  here as in the other experiments (the first run reuses the overfit run's compilation).
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nndoctor.core.preflight_protocol import DETERMINISM_STEPS, MAX_PROBES, MAX_SAMPLES, loss_differences
from nndoctor.core.rule import Measurements
from nndoctor.jax.model import floating, leaf_names, primary_output
from nndoctor.jax.experiments.bench import Bench, ExperimentUnavailable


def gradients(bench: Bench, m: Measurements) -> None:
    model, batch = bench.model, bench.batch
    grads = bench.gradient(model.params, model.state, batch.inputs, batch.targets, bench.key)
    updated = None
    if bench.optimizer is not None:
        tx = bench.optimizer
        updated = jax.jit(lambda p, g: optax.apply_updates(p, tx.update(g, tx.init(p), p)[0]))(model.params, grads)
    names = leaf_names(model.params)
    values = jax.tree_util.tree_leaves(model.params)
    grad_leaves = [np.asarray(g) for g in jax.tree_util.tree_leaves(grads)]
    new_leaves = jax.tree_util.tree_leaves(updated) if updated is not None else [None] * len(values)
    status = []
    for name, value, grad, new in zip(names, values, grad_leaves, new_leaves):
        value = np.asarray(value)
        changed = None if new is None else not np.array_equal(np.asarray(new), value)
        status.append({
            "name": name, "shape": list(value.shape), "numel": int(value.size), "trainable": True,
            # A leaf the optimizer leaves untouched although its gradient is not zero is
            # outside the update in effect (optax.masked, set_to_zero, multi_transform).
            "in_optimizer": None if changed is None else bool(changed or not grad.any()),
            "got_grad": True,  # jax.grad returns a gradient for every leaf; a cut one is all zero
            "grad_all_zero": not bool(grad.any()),
            "grad_non_finite": not bool(np.isfinite(grad).all()),
            "changed": changed,
            "grad_abs_max": float(np.abs(grad).max()) if grad.size else None,
            "value_abs_max": float(np.abs(value).max()) if value.size else 0.0,
        })
    m["parameter_status"] = status
    m["steps_observed"] = 1 if updated is not None else 0
    m["loss_detached"] = False  # JAX has no detached loss: a cut graph shows as zero gradients


def batch_mixing(bench: Bench, m: Measurements) -> None:
    batch, n = bench.batch, bench.batch.n_samples
    if n < 2:
        raise ExperimentUnavailable("the batch has a single sample, so samples cannot mix")
    leaves, treedef = jax.tree_util.tree_flatten(batch.inputs)
    probed = [i for i, leaf in enumerate(leaves) if floating(leaf) and leaf.ndim and leaf.shape[0] == n]
    if not probed:
        raise ExperimentUnavailable("no floating-point input with N samples on axis 0 to take the Jacobian against "
                                    "(integer token inputs are not probed by the JAX adapter)")
    samples = sorted({0, n - 1})[:MAX_PROBES]

    def per_sample(*floats: Any) -> Any:
        filled = list(leaves)
        for index, value in zip(probed, floats):
            filled[index] = value
        output = primary_output(bench.outputs(bench.model.params, jax.tree_util.tree_unflatten(treedef, filled)))
        return output.reshape(output.shape[0], -1).astype(jnp.float32).sum(1)[jnp.array(samples)]

    output = primary_output(bench.outputs(bench.model.params, batch.inputs))
    if output is None or output.ndim == 0 or output.shape[0] != n:
        raise ExperimentUnavailable("the model output has no leading batch dimension of N samples")
    jacobians = jax.jacrev(per_sample, argnums=tuple(range(len(probed))))(*[leaves[i] for i in probed])
    rows = [np.abs(np.asarray(j, np.float64)).reshape(len(samples), n, -1).max(2) for j in jacobians]
    influence = np.max(np.stack(rows), 0)  # (probe, input sample)
    pairs, worst_ratio, worst_pair = [], 0.0, None
    for row, i in zip(influence, samples):
        own = float(row[i])
        others = row.copy()
        others[i] = 0
        other, other_index = float(others.max()), int(others.argmax())
        ratio = other / own if own > 0 else (float("inf") if other > 0 else 0.0)
        pairs.append({"output_sample": i, "own_gradient": own, "largest_other_gradient": other,
                      "other_sample": other_index if other > 0 else None, "ratio": ratio})
        if ratio > worst_ratio:
            worst_ratio, worst_pair = ratio, [i, other_index]
    m["batch_mixing"] = {"probes": pairs, "worst_ratio": worst_ratio, "worst_pair": worst_pair,
                         "input_kind": "input", "batch_size": n, "causal": None}


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    if not a.size:
        return 0.0
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.abs(a - b).max()) / max(float(np.abs(a).max()), 1e-12)


def determinism(bench: Bench, m: Measurements) -> None:
    tx = bench.optimizer if bench.optimizer is not None else bench.reference
    batch = bench.batch.slice(MAX_SAMPLES)
    runs = []
    for fresh in (False, True):
        losses, params, _, _ = bench.train(tx, batch.inputs, batch.targets, DETERMINISM_STEPS, fresh=fresh)
        runs.append((losses, [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(params)]))
    (first, first_params), (second, second_params) = runs
    differences = loss_differences(first, second)
    m["determinism"] = {
        "steps": DETERMINISM_STEPS,
        "losses_first": first,
        "losses_second": second,
        "max_loss_relative_difference": max(differences, default=0.0),
        "max_parameter_relative_difference": max(
            (_relative_difference(a, b) for a, b in zip(first_params, second_params)), default=0.0),
        "first_differing_step": next((i for i, d in enumerate(differences) if d > 0), None),
        "bitwise_identical": first == second and all(np.array_equal(a, b) for a, b in zip(first_params, second_params)),
    }
