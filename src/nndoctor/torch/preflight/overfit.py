"""Train copies on the one batch, and on two samples, until they memorise it or the step
budget runs out (000 §1.4, 001, 002 #1, 003 §4.5.2 #5 and §4.5.3 #7).

Each data set is trained twice from the same initial weights: with the user's optimizer
settings and with Adam 1e-3 (000 §1.1.3). The pair tells a learning-rate/optimizer
problem (only the user's settings fail) from a code/architecture problem (both fail).
Dropout is switched off on the copies (000 §1.1.2). Progress is measured against the
loss floor of the batch, which is above 0 with label smoothing, soft targets or
identical inputs with different targets.
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.core.preflight_protocol import (
    MAX_SAMPLES, STOP_FRACTION, TWO_SAMPLE_STEP_SHARE, reached_floor, summarise_run,
)
from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.forward import as_loss_sees, batch_floor, output_spread, record_loss
from nndoctor.torch.preflight.structures import call_model, primary_output, slice_batch, slice_targets
from nndoctor.torch.preflight.workbench import (
    ExperimentUnavailable, Workbench, describe_optimizer, disable_dropout, seed_everything,
)



def _run(bench: Workbench, inputs: Any, targets: Any, steps: int, floor: float, use_reference: bool) -> dict[str, Any]:
    seed_everything(bench.options.seed)
    model = bench.fresh_model()
    disable_dropout(model)
    optimizer = bench.adam(model) if use_reference else bench.user_optimizer(model)
    with torch.enable_grad():
        losses = bench.train(model, optimizer, inputs, targets, steps, floor=floor, stop_fraction=STOP_FRACTION)
    return {
        "optimizer": describe_optimizer(optimizer),
        "reference": use_reference,
        **summarise_run(losses),
        "_model": model,
        "_losses": losses,
    }


def _floor(bench: Workbench, inputs: Any, targets: Any, n_samples: int) -> float:
    with torch.no_grad():
        _, _, calls = record_loss(bench, bench.fresh_model(), inputs, targets)
    return batch_floor(calls, inputs, n_samples)


def _runs_on(bench: Workbench, m: Measurements, label: str, count: int, steps: int,
             optimizers: list[bool]) -> list[dict[str, Any]]:
    batch = bench.batch
    inputs = slice_batch(batch.inputs, batch.n_samples, count)
    targets = slice_targets(batch.targets, batch.n_samples, count)
    floor = _floor(bench, inputs, targets, count)
    runs = []
    for use_reference in optimizers:
        result = _run(bench, inputs, targets, steps, floor, use_reference)
        model = result.pop("_model")
        losses = result.pop("_losses")
        result.update(data=label, samples=count, floor=floor, steps_budget=steps)
        runs.append(result)
        if label == "batch" and use_reference:
            bench.results["reference_run"] = dict(result, inputs=inputs, targets=targets, losses=losses)
            with torch.no_grad():
                trained = as_loss_sees(primary_output(call_model(model, inputs)), bench)
            if "output_check" in m and m["output_check"].get("relative_spread") is not None:
                m["output_check"]["relative_spread_after_training"] = output_spread(trained, count)
    return runs


def run(bench: Workbench, m: Measurements) -> None:
    if not bench.trainable():
        raise ExperimentUnavailable("the model has no trainable parameters")
    if not bench.results.get("loss_requires_grad", True):
        raise ExperimentUnavailable("the loss does not require grad, so nothing can be trained (see no-gradient)")
    batch = bench.batch
    n = min(batch.n_samples, MAX_SAMPLES)
    datasets = [("batch", n, bench.options.steps)]
    if batch.n_samples > 2:
        datasets.append(("two_samples", 2, max(1, int(bench.options.steps * TWO_SAMPLE_STEP_SHARE))))
    has_user = (bench.optimizer is not None and not bench.user_matches_reference()
                and bench.user_optimizer(bench.fresh_model()) is not None)
    runs: list[dict[str, Any]] = []
    notes: list[str] = []
    for label, count, steps in datasets:
        # Two samples are only informative where the batch was not memorised: a setup that
        # overfits the batch overfits two of its samples, and the run would only cost time.
        optimizers = [u for u in ([False, True] if has_user else [True])
                      if label == "batch" or not reached_floor(runs, u)]
        if not optimizers:
            continue
        try:
            runs += _runs_on(bench, m, label, count, steps, optimizers)
        except ExperimentUnavailable:
            raise
        except Exception as error:  # noqa: BLE001 — the user's code on fewer samples
            if label == "batch" and count < batch.n_samples:
                # A hard-coded batch size: train on the whole batch instead of a slice.
                runs += _runs_on(bench, m, label, batch.n_samples, steps, optimizers)
            else:
                notes.append(f"{label}: model or loss_fn fails on {count} samples ({type(error).__name__})")
    if not runs:
        raise ExperimentUnavailable("; ".join(notes))
    m["overfit"] = {"runs": runs, "notes": notes, "user_optimizer_given": bench.optimizer is not None,
                    "user_optimizer_is_reference": bench.optimizer is not None and bench.user_matches_reference()}
