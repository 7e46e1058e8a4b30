"""`nndoctor.jax.experiments(model, params_or_state, batch, loss_fn, optimizer=None)`: the
checks an experienced practitioner runs before a long training run, for Flax NNX and
Linen models, judged by the same rules as the torch adapter's measurements.

JAX is pure, so the experiments need no copies or snapshots: every run starts from the
model's initial arrays and nothing of the user's is changed (an NNX model is split into
arrays once; its object is never called).
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import jax

from nndoctor.core.capability import Capability, RuleSet, Selection, measuring
from nndoctor.core.errors import UsageError
from nndoctor.core.preflight_protocol import DEFAULT_STEPS
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.jax import idioms  # noqa: F401 — registers the JAX idiom table
from nndoctor.jax.layer_calls import LayerCalls
from nndoctor.jax.model import functional_model, linen_optimizer
from nndoctor.jax.optax_names import describe
from nndoctor.jax.experiments import architecture, forward, probes, training
from nndoctor.jax.experiments.bench import Batch, Bench

Experiment = Callable[[Bench, Measurements], None]
# name → (function, measurements it produces). Order matters: input sensitivity compares
# against the overfit run. Dropout is off in all but the architecture trace.
EXPERIMENTS: dict[str, tuple[Experiment, tuple[str, ...]]] = {
    "gradients": (probes.gradients, ("parameter_status", "steps_observed", "loss_detached")),
    "overfit": (training.overfit, ("overfit",)),
    "input_sensitivity": (training.input_sensitivity, ("input_sensitivity",)),
    "batch_mixing": (probes.batch_mixing, ("batch_mixing",)),
    "determinism": (probes.determinism, ("determinism",)),
}
WITH_DROPOUT: dict[str, tuple[Experiment, tuple[str, ...]]] = {
    "architecture": (architecture.run, ("parameter_dtypes", "autocast_active", "dropout_normalization",
                                        "batchnorm_layers", "training_batch_size")),
}
NOT_YET = "not measured by the JAX adapter yet"
# What JAX preflight measures. Rules needing anything else are left out (live-loop rules
# such as missing-zero-grad, torch-only probes), except the few it names as not measured
# yet, which are listed as skipped with that reason.
CAPABILITY = Capability(
    "jax-preflight", "preflight",
    frozenset({"framework", "output_check", "loss_calls", "initial_loss"}).union(
        *(provides for _, provides in (*EXPERIMENTS.values(), *WITH_DROPOUT.values()))),
    absent_reasons={name: NOT_YET for name in ("layer_activation_rms", "output_layer", "sigmoid_uses",
                                               "lstm_forget_biases", "sharpness")})
KNOWN_OPTIONS = ("steps", "seed", "select", "ignore", "thresholds")


def preflight(model: Any, params_or_state: Any, batch: Any, loss_fn: Any, optimizer: Any = None,
              **options: Any) -> Report:
    """Run the preflight experiments and return a Report of findings.

    * `model`: a `flax.nnx.Module` (pass `params_or_state=None`, or the `nnx.State` to use)
      or a `flax.linen.Module` with its variables (`model.init(key, x)`), its params, or a
      flax `TrainState` (whose `tx` is used when `optimizer` is None).
    * `batch`: `(inputs, targets)`, samples on axis 0; inputs an array, a tuple (`model(*inputs)`)
      or a dict (`model(**inputs)`). `loss_fn(outputs, targets)` returns a scalar.
    * `optimizer`: the optax GradientTransformation you train with, or None.
    * options: `steps` (overfit budget, default 200), `seed` (default 0), `select` /
      `ignore` (rule ids or areas), `thresholds` ({rule: {name: value}}).
    """
    unknown = sorted(set(options) - set(KNOWN_OPTIONS))
    if unknown:
        raise UsageError(f"unknown preflight option(s) {', '.join(unknown)}; known: {', '.join(KNOWN_OPTIONS)}")
    selection = Selection.resolve(options.get("select"), options.get("ignore"), thresholds=options.get("thresholds"))
    return run_preflight(model, params_or_state, batch, loss_fn, optimizer, options, selection)


def run_preflight(model: Any, params_or_state: Any, batch: Any, loss_fn: Any, optimizer: Any,
                  options: dict[str, Any], selection: Selection) -> Report:
    """`preflight` with the rule selection made (`nndoctor run --preflight` passes the run's)."""
    started = time.perf_counter()
    bench = _bench(model, params_or_state, batch, loss_fn, optimizer, options)
    rules = RuleSet(CAPABILITY, selection)
    m = Measurements(framework="jax", internal_faults=[])
    timings: dict[str, float] = {}
    forward.run(bench, m)  # the user's errors surface here, as one-line UsageErrors
    timings["forward"] = time.perf_counter() - started
    with LayerCalls(drop=False):
        for name, (function, provides) in EXPERIMENTS.items():
            _run_isolated(name, function, provides, bench, m, timings)
    for name, (function, provides) in WITH_DROPOUT.items():
        _run_isolated(name, function, provides, bench, m, timings)
    report = rules.judge(m)
    report.context.update({
        "framework": "jax",
        "model": f"{bench.model.class_name} (Flax {bench.model.kind})",
        "parameters": int(sum(leaf.size for leaf in jax.tree_util.tree_leaves(bench.model.params))),
        "batch_size": bench.batch.n_samples,
        "optimizer": describe(bench.optimizer) if bench.optimizer is not None else None,
        "steps_budget": bench.steps, "seed": bench.seed,
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    })
    return report


def _bench(model: Any, params_or_state: Any, batch: Any, loss_fn: Any, optimizer: Any,
           options: dict[str, Any]) -> Bench:
    if not callable(loss_fn):
        raise UsageError(f"loss_fn must be a function loss_fn(outputs, targets) -> scalar, got {type(loss_fn).__name__}")
    if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
        raise UsageError("batch must be a pair (inputs, targets)")
    optimizer = optimizer if optimizer is not None else linen_optimizer(params_or_state)
    if optimizer is not None and not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise UsageError(f"optimizer must be an optax GradientTransformation, got {type(optimizer).__name__}")
    steps, seed = options.get("steps", DEFAULT_STEPS), options.get("seed", 0)
    if not isinstance(steps, int) or steps < 1:
        raise UsageError(f"steps must be a positive whole number, got {steps!r}")
    inputs, targets = batch
    sizes = {int(leaf.shape[0]) for leaf in jax.tree_util.tree_leaves((inputs, targets)) if getattr(leaf, "ndim", 0)}
    if len(sizes) != 1:
        raise UsageError(f"every array of the batch needs the same number of samples on axis 0, got {sorted(sizes)}")
    inputs, targets = jax.tree_util.tree_map(jax.numpy.asarray, (inputs, targets))
    return Bench(functional_model(model, params_or_state), Batch(inputs, targets, sizes.pop()), loss_fn,
                 optimizer, steps, int(seed))


def _run_isolated(name: str, function: Experiment, provides: tuple[str, ...], bench: Bench, m: Measurements,
                  timings: dict[str, float]) -> None:
    """Run one experiment, contained (nndoctor.core.capability.measuring)."""
    started = time.perf_counter()
    try:
        with measuring(m, provides, source=f"preflight experiment {name}", what=f"the {name} experiment"), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            function(bench, m)
    finally:
        timings[name] = time.perf_counter() - started
