"""`nndoctor.preflight(model, (inputs, targets), loss_fn, optimizer)`: the checks an
experienced practitioner runs before a long training run, as experiments on copies.

Order of work: validate the arguments (one-line UsageErrors), snapshot every piece of
state, forward the real batch on the model (loss calls, output, initial loss), then run
the experiments the selected rules need on deep copies, each isolated so that a crash
becomes an `internal-error` finding, restore the snapshot, and judge with the rules.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import torch

from nndoctor.core.capability import Capability, RuleSet, Selection, measuring
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.torch.architecture.measurements import MEASUREMENTS as ARCHITECTURE_MEASUREMENTS
from nndoctor.torch.preflight import (
    batch_mixing, custom_functions, determinism, forward, gradients, input_sensitivity, overfit, sharpness,
)
from nndoctor.torch.preflight.snapshot import StateSnapshot
from nndoctor.torch.preflight.validation import (
    PreflightOptions, check_batch, check_devices, check_loss_fn, check_model, check_optimizer, parse_options,
)
from nndoctor.torch.preflight.workbench import Workbench

SMALL_MODEL_PARAMETERS = 20_000_000
Experiment = Callable[[Workbench, Measurements], None]
# name → (function, measurements it produces, experiments it needs first). The forward
# pass always runs first: it is also the check that model and loss accept the batch.
EXPERIMENTS: dict[str, tuple[Experiment, tuple[str, ...], tuple[str, ...]]] = {
    "gradients": (gradients.run, ("parameter_status", "steps_observed", "loss_detached"), ()),
    "overfit": (overfit.run, ("overfit",), ()),
    "input_sensitivity": (input_sensitivity.run, ("input_sensitivity",), ("overfit",)),
    "batch_mixing": (batch_mixing.run, ("batch_mixing",), ()),
    "custom_functions": (custom_functions.run, ("custom_functions",), ()),
    "determinism": (determinism.run, ("determinism",), ()),
    "sharpness": (sharpness.run, ("sharpness",), ()),
}

FORWARD_MEASUREMENTS = ("output_check", "loss_calls", "initial_loss")
# What preflight measures; the rules needing only these run (the live-loop ones, such as
# missing-zero-grad, need `nndoctor run`).
CAPABILITY = Capability("torch-preflight", "preflight", frozenset(FORWARD_MEASUREMENTS).union(
    *(provides for _, provides, _ in EXPERIMENTS.values()), ARCHITECTURE_MEASUREMENTS))


def preflight(model: Any, batch: Any, loss_fn: Any, optimizer: Any = None, **options: Any) -> Report:
    """Run the preflight experiments and return a Report of findings.

    * `model`: a torch.nn.Module; `batch`: `(inputs, targets)` where inputs is a tensor
      (passed as `model(x)`), a tuple/list (`model(*inputs)`) or a dict (`model(**inputs)`),
      with samples on dim 0 of every tensor; `loss_fn(outputs, targets)` returns a scalar.
    * `optimizer`: the torch optimizer you train with (its class and settings are re-created
      on copies; the optimizer itself is never stepped), or None.
    * options: `steps` (overfit budget, default 200), `seed` (default 0), `select` / `ignore`
      (rule ids or areas: code, preflight, architecture), `thresholds` ({rule: {name: value}}).

    Nothing is left changed: parameters, buffers, gradients, train/eval flags, optimizer
    state, RNG states and the input tensors are restored bit for bit.
    """
    return run_preflight(model, batch, loss_fn, optimizer, parse_options(options))


def run_preflight(model: Any, batch: Any, loss_fn: Any, optimizer: Any, opts: PreflightOptions,
                  selection: Selection | None = None) -> Report:
    """`preflight` with parsed options; `selection` is the rules chosen by a running
    command (`nndoctor run --preflight`), else resolved from the options and pyproject."""
    check_model(model)
    check_loss_fn(loss_fn)
    check_optimizer(optimizer)
    checked = check_batch(batch)
    device = check_devices(model, checked)
    if selection is None:
        selection = Selection.resolve(opts.select, opts.ignore, thresholds=opts.thresholds)
    rules = RuleSet(CAPABILITY, selection)
    needed = rules.needs()
    m = Measurements()
    m["internal_faults"] = []
    bench = Workbench(model, checked, loss_fn, optimizer, opts)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    snapshot = StateSnapshot.capture(model, optimizer, checked.inputs, checked.targets)
    threads = torch.get_num_threads()
    if _few_threads_help(model, device):
        torch.set_num_threads(1)
    try:
        forward.run(bench, m)
        timings["forward"] = time.perf_counter() - started
        for name in _experiments_for(needed):
            _run_isolated(name, bench, m, timings)
        if needed & set(ARCHITECTURE_MEASUREMENTS):
            _run_architecture(bench, m, timings)
    finally:
        torch.set_num_threads(threads)
        snapshot.restore()
    report = rules.judge(m)
    report.context.update({
        "model": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "batch_size": checked.n_samples,
        "device": str(device) if device is not None else "several",
        "optimizer": type(optimizer).__name__ if optimizer is not None else None,
        "steps_budget": opts.steps,
        "seed": opts.seed,
        "seconds": {name: round(value, 3) for name, value in timings.items()},
    })
    overfit = m.get("overfit")
    if isinstance(overfit, dict) and overfit.get("runs"):  # the loss curves the HTML report draws
        report.context["preflight_curves"] = {"overfit": [
            {key: run[key] for key in ("optimizer", "reference", "data", "samples", "floor", "curve_steps", "curve")}
            for run in overfit["runs"]]}
    return report


def _few_threads_help(model: Any, device: torch.device | None) -> bool:
    """The experiments are hundreds of short steps on one small batch. On CPU, intra-op
    threads gain little there, while oversubscription (dataloader workers, other jobs)
    was measured to slow such steps 10–20×; below ~20M parameters one thread is faster."""
    return (device is None or device.type == "cpu") and sum(p.numel() for p in model.parameters()) <= SMALL_MODEL_PARAMETERS


def _experiments_for(needed: set[str]) -> list[str]:
    chosen: list[str] = []

    def add(name: str) -> None:
        for dependency in EXPERIMENTS[name][2]:
            add(dependency)
        if name not in chosen:
            chosen.append(name)

    for name, (_, provides, _) in EXPERIMENTS.items():
        if needed & set(provides) or (name == "overfit" and "output_check" in needed):
            add(name)
    return [name for name in EXPERIMENTS if name in chosen]


def _run_isolated(name: str, bench: Workbench, m: Measurements, timings: dict[str, float]) -> None:
    """Run one experiment, contained: an experiment that cannot run or crashes leaves its
    measurements marked unavailable, so the rules that need them are listed as skipped."""
    function, provides, _ = EXPERIMENTS[name]
    started = time.perf_counter()
    try:
        # ExperimentUnavailable, or a UsageError: the user's code worked on the batch but not
        # in the experiment (e.g. a hard-coded batch size on a slice) — a reason, not a fault.
        with measuring(m, provides, source=f"preflight experiment {name}", what=f"the {name} experiment"), \
                warnings.catch_warnings():
            # The user's code already warned once in the real forward; repeating each
            # warning for every training step of every copy would only bury it.
            warnings.simplefilter("ignore")
            function(bench, m)
    finally:
        timings[name] = time.perf_counter() - started


def _run_architecture(bench: Workbench, m: Measurements, timings: dict[str, float]) -> None:
    """PRE-B's architecture lints, measured on the real batch."""
    from nndoctor.torch.architecture import measure_architecture  # imports torch.preflight itself

    started = time.perf_counter()
    with measuring(m, ARCHITECTURE_MEASUREMENTS, source="preflight architecture measurements",
                   what="the architecture measurement", unavailable=()):
        measure_architecture(bench.model, bench.batch.inputs, bench.batch.targets, m, batch_size=bench.batch.n_samples)
    timings["architecture"] = time.perf_counter() - started
