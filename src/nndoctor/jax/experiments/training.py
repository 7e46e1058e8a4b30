"""The training experiments on one batch, with dropout off (000 §1.1.2):

* overfit: the batch (first 16 samples) and, if it is not memorised, two samples, each
  trained from the model's initial weights with the user's optax optimizer and with Adam
  1e-3 (000 §1.4, §1.1.3; 003 §4.5.2 #5) → `overfit`;
* input sensitivity: Adam 1e-3 on all-zero and on random inputs of the same scale
  against the real-input run (003 §4.5.2 #4) → `input_sensitivity`.

The protocol (budgets, early stop, summaries) is nndoctor.core.preflight_protocol, the
same as the torch adapter's.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nndoctor.core.preflight_protocol import (
    COMPARISON_STEPS, MAX_SAMPLES, STOP_FRACTION, TWO_SAMPLE_STEP_SHARE, clearly_better, finite,
    reached_floor, summarise_run, tail_drop,
)
from nndoctor.core.rule import Measurements
from nndoctor.jax.model import primary_output
from nndoctor.jax.optax_names import describe
from nndoctor.jax.experiments.bench import Batch, Bench, ExperimentUnavailable
from nndoctor.jax.experiments.forward import batch_floor, recorded_loss, relative_spread


def _user_is_reference(bench: Bench) -> bool:
    return bench.optimizer is None or describe(bench.optimizer) == describe(bench.reference)


def _runs_on(bench: Bench, m: Measurements, label: str, batch: Batch, steps: int, optimizers: list[bool]) -> list[dict]:
    _, _, calls = recorded_loss(bench, bench.model.params, batch)
    floor = batch_floor(calls, batch.inputs, batch.n_samples)
    runs = []
    for use_reference in optimizers:
        tx = bench.reference if use_reference else bench.optimizer
        losses, params, _, _ = bench.train(tx, batch.inputs, batch.targets, steps, floor=floor,
                                           stop_fraction=STOP_FRACTION)
        result = {"optimizer": describe(tx), "reference": use_reference, **summarise_run(losses),
                  "data": label, "samples": batch.n_samples, "floor": floor, "steps_budget": steps}
        runs.append(result)
        if label == "batch" and use_reference:
            bench.results["reference_run"] = dict(result, batch=batch, losses=losses)
            check = m.get("output_check") or {}
            if check.get("relative_spread") is not None:
                trained = primary_output(bench.outputs(params, batch.inputs))
                check["relative_spread_after_training"] = relative_spread(trained, batch.n_samples)
    return runs


def overfit(bench: Bench, m: Measurements) -> None:
    if not jax.tree_util.tree_leaves(bench.model.params):
        raise ExperimentUnavailable("the model has no parameters to train")
    batch = bench.batch
    datasets = [("batch", batch.slice(MAX_SAMPLES), bench.steps)]
    if batch.n_samples > 2:
        datasets.append(("two_samples", batch.slice(2), max(1, int(bench.steps * TWO_SAMPLE_STEP_SHARE))))
    has_user = not _user_is_reference(bench)
    runs: list[dict[str, Any]] = []
    for label, data, steps in datasets:
        # Two samples are informative only where the batch was not memorised.
        optimizers = [u for u in ([False, True] if has_user else [True])
                      if label == "batch" or not reached_floor(runs, u)]
        if optimizers:
            runs += _runs_on(bench, m, label, data, steps, optimizers)
    m["overfit"] = {"runs": runs, "notes": [], "user_optimizer_given": bench.optimizer is not None,
                    "user_optimizer_is_reference": bench.optimizer is not None and not has_user}


def _perturbed(inputs: Any, how: str, seed: int) -> Any:
    rng = np.random.default_rng(seed)

    def replace(leaf: Any) -> Any:
        array = np.asarray(leaf)
        if array.dtype == np.bool_:
            return leaf  # masks: masking everything is not "no information" but an invalid input
        if how == "zero":
            return jnp.zeros_like(leaf)
        if np.issubdtype(array.dtype, np.floating):
            std = float(array.std()) if array.size > 1 else 1.0
            return jnp.asarray(rng.normal(float(array.mean()), std or 1.0, array.shape), leaf.dtype)
        return jnp.asarray(rng.integers(int(array.min()), int(array.max()) + 1, array.shape), leaf.dtype)

    return jax.tree_util.tree_map(replace, inputs)


def input_sensitivity(bench: Bench, m: Measurements) -> None:
    reference = bench.results.get("reference_run")
    if reference is None:
        raise ExperimentUnavailable("the overfit experiment did not run, so there is no real-input run to compare")
    total = reference["steps"]
    if total == 0:
        raise ExperimentUnavailable("the real-input run stopped before its first update")
    steps = min(total, COMPARISON_STEPS)
    real, batch = reference["losses"], reference["batch"]
    zero_inputs = _perturbed(batch.inputs, "zero", bench.seed)
    zero_losses, params, state, opt_state = bench.train(bench.reference, zero_inputs, batch.targets, steps)
    zero = zero_losses[-1] if finite(zero_losses[-1]) else None
    if zero is not None and steps < total and not clearly_better(real[steps], zero, reference["floor"]):
        # Slow learners use their input only later: compare at the end of the real run.
        more, *_ = bench.train(bench.reference, zero_inputs, batch.targets, total - steps,
                               params=params, state=state, opt_state=opt_state)
        zero_losses += more[1:]
        zero, steps = (zero_losses[-1] if finite(zero_losses[-1]) else None), total
    random_losses, *_ = bench.train(bench.reference, _perturbed(batch.inputs, "random", bench.seed),
                                    batch.targets, steps)
    m["input_sensitivity"] = {
        "steps": steps, "samples": reference["samples"], "initial": reference["initial"],
        "floor": reference["floor"], "real_final": real[steps], "zero_final": zero,
        "random_final": random_losses[-1] if finite(random_losses[-1]) else None,
        "real_tail_drop": tail_drop(real[: steps + 1]),
        "zero_tail_drop": tail_drop(zero_losses) if zero is not None else None,
    }
