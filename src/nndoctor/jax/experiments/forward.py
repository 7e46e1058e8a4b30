"""Forward the real batch once (eagerly, so that optax loss calls are seen with their
values): a valid output? what loss before training, against its analytic expectation?

Produces `output_check`, `loss_calls` and `initial_loss` (003 §4.5.2 #1–#3), and the
batch's loss floor for the overfit experiment.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np

from nndoctor.core.errors import UsageError
from nndoctor.core.loss_expectations import initial_loss_record, loss_floor
from nndoctor.core.rule import Measurements
from nndoctor.jax.jaxpr_facts import output_source
from nndoctor.jax.losses import OptaxLossRecorder, describe, torch_layout
from nndoctor.jax.model import primary_output
from nndoctor.jax.experiments.bench import Batch, Bench


def rows_identical(inputs: Any, n_samples: int) -> list[list[int]]:
    """Groups of sample indices whose inputs are exactly equal (every group, singletons too)."""
    leaves = [np.asarray(leaf).reshape(n_samples, -1) for leaf in jax.tree_util.tree_leaves(inputs)
              if getattr(leaf, "ndim", 0) and leaf.shape[0] == n_samples]
    groups: dict[bytes, list[int]] = {}
    for index in range(n_samples):
        groups.setdefault(b"".join(leaf[index].tobytes() for leaf in leaves), []).append(index)
    return list(groups.values())


def relative_spread(output: Any, n_samples: int) -> float | None:
    """Largest difference between samples of any output element over the output's scale."""
    if output is None or getattr(output, "ndim", 0) == 0 or output.shape[0] != n_samples or n_samples < 2:
        return None
    values = np.asarray(output, np.float64).reshape(n_samples, -1)
    values = values[:, np.isfinite(values).all(0)]
    if values.size == 0:
        return 0.0
    spread = float((values.max(0) - values.min(0)).max())
    return spread / max(float(np.abs(values).mean()), 1e-12)


def _batch_dim_ok(output: Any, inputs: Any, n_samples: int) -> bool:
    if output.ndim == 0:
        return False
    leading = int(output.shape[0])
    if leading == n_samples:
        return True
    # Sequence models may return (N·T, C): accept N times an input dimension.
    lengths = {int(size) for leaf in jax.tree_util.tree_leaves(inputs) if getattr(leaf, "ndim", 0) >= 2
               for size in leaf.shape[1:]}
    return any(leading == n_samples * length for length in lengths)


def recorded_loss(bench: Bench, params: Any, batch: Batch) -> tuple[Any, float, list]:
    """Outputs, loss value and optax loss calls of one forward in training mode (the loss
    eagerly, so the optax calls inside are seen with their values)."""
    try:
        outputs, _ = bench.apply(params, bench.model.state, batch.inputs, bench.key, True)
    except Exception as error:  # noqa: BLE001 — the user's model, reported in one line
        raise UsageError(f"the model failed on the batch: {type(error).__name__}: {error}") from None
    try:
        with OptaxLossRecorder() as recorder:
            loss = bench.loss_fn(outputs, batch.targets)
        if not recorder.calls:  # a jitted loss_fn hides its calls from an eager look
            with jax.disable_jit(), OptaxLossRecorder() as recorder:
                bench.loss_fn(outputs, batch.targets)
    except Exception as error:  # noqa: BLE001
        raise UsageError(f"loss_fn(outputs, targets) failed on the batch: {type(error).__name__}: {error}") from None
    if getattr(loss, "size", 1) != 1:
        raise UsageError(f"loss_fn must return a scalar loss, got an array of shape {tuple(loss.shape)}")
    return outputs, float(np.asarray(loss, np.float64).reshape(())), recorder.calls


def batch_floor(calls: list, inputs: Any, n_samples: int) -> float:
    groups = [g for g in rows_identical(inputs, n_samples) if len(g) > 1]
    total = 0.0
    for call in calls:
        prediction, target = torch_layout(call)
        # optax losses are per element and the floor is per element too: the mean the
        # user's loss_fn takes of them.
        total += loss_floor(call.kind, prediction, target, call.options, groups)
    return total


def run(bench: Bench, m: Measurements) -> None:
    batch = bench.batch
    outputs, loss_value, calls = recorded_loss(bench, bench.model.params, batch)
    output = primary_output(outputs)
    leaves = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(outputs) if hasattr(leaf, "dtype")]
    non_finite = sum(int((~np.isfinite(leaf)).sum()) for leaf in leaves if np.issubdtype(leaf.dtype, np.floating))
    inputs_vary = len(rows_identical(batch.inputs, batch.n_samples)) > 1
    m["output_check"] = {
        "batch_size": batch.n_samples,
        "output_type": type(outputs).__name__,
        "output_shape": list(output.shape) if output is not None else None,
        "batch_dim_ok": _batch_dim_ok(output, batch.inputs, batch.n_samples) if output is not None else None,
        "non_finite_count": non_finite,
        "output_numel": int(sum(leaf.size for leaf in leaves)),
        "loss_value": loss_value,
        "relative_spread": relative_spread(output, batch.n_samples) if inputs_vary else None,
        "relative_spread_after_training": None,  # filled by the overfit experiment
        "inputs_vary": inputs_vary,
    }
    source = _model_output_source(bench)
    m["loss_calls"] = [describe(call, source if _is_model_output(call, output) else "unknown") for call in calls]
    bench.results["floor"] = batch_floor(calls, batch.inputs, batch.n_samples)
    bench.results["initial_loss_value"] = loss_value
    if calls and np.isfinite(call_value := float(np.mean(calls[0].output))):
        prediction, target = torch_layout(calls[0])
        m["initial_loss"] = initial_loss_record(calls[0].kind, call_value, prediction, target, 0, calls[0].options)
    elif not calls:
        m.mark_unavailable("initial_loss", "loss_fn calls no optax loss nndoctor recognises (optax.softmax_cross_entropy"
                                           "_with_integer_labels, sigmoid_binary_cross_entropy, l2_loss, squared_error, "
                                           "huber_loss), so its expected value is unknown")
    else:
        m.mark_unavailable("initial_loss", "the initial loss is not finite (see invalid-output)")


def _model_output_source(bench: Bench) -> str:
    try:
        closed = jax.make_jaxpr(lambda p, x: bench.model.apply(p, bench.model.state, x, bench.key, False)[0])(
            bench.model.params, bench.batch.inputs)
    except Exception:  # noqa: BLE001 — no source is not a finding
        return "unknown"
    return output_source(closed)


def _is_model_output(call: Any, output: Any) -> bool:
    return output is not None and tuple(call.prediction.shape) == tuple(output.shape) and np.array_equal(
        call.prediction, np.asarray(output), equal_nan=True)
