"""Two short runs from the same weights and the same seed must agree (000 §1.2).

Both copies keep the user's train/eval flags, dropout included: with the torch, numpy and
python generators seeded identically, dropout masks repeat exactly, so only randomness
nndoctor cannot seed (an unseeded generator of the model's own, wall-clock or OS entropy,
non-deterministic kernels) makes the runs differ.
"""
from __future__ import annotations

import torch

from nndoctor.core.preflight_protocol import DETERMINISM_STEPS, loss_differences
from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.structures import map_tensors
from nndoctor.torch.preflight.workbench import ExperimentUnavailable, Workbench, seed_everything

STEPS = DETERMINISM_STEPS


def _one_run(bench: Workbench) -> tuple[list[float], list[torch.Tensor]]:
    seed_everything(bench.options.seed)
    model = bench.fresh_model()
    optimizer = bench.user_optimizer(model) or bench.adam(model)
    # Fresh clones: a forward that edits its input in place must not make run 2 differ.
    inputs = map_tensors(bench.batch.inputs, lambda t: t.clone())
    targets = map_tensors(bench.batch.targets, lambda t: t.clone())
    with torch.enable_grad():
        losses = bench.train(model, optimizer, inputs, targets, STEPS)
    return losses, [p.detach() for p in model.parameters()]


def _relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    a, b = a.double(), b.double()
    scale = max(float(a.abs().max()) if a.numel() else 0.0, 1e-12)
    return float((a - b).abs().max()) / scale if a.numel() else 0.0


def run(bench: Workbench, m: Measurements) -> None:
    if not bench.trainable() or not bench.results.get("loss_requires_grad", True):
        raise ExperimentUnavailable("nothing in the model can be trained, so runs cannot differ by training")
    first_losses, first_params = _one_run(bench)
    second_losses, second_params = _one_run(bench)
    differences = loss_differences(first_losses, second_losses)
    first_step = next((i for i, d in enumerate(differences) if d > 0), None)
    m["determinism"] = {
        "steps": STEPS,
        "losses_first": first_losses,
        "losses_second": second_losses,
        "max_loss_relative_difference": max(differences, default=0.0),
        "max_parameter_relative_difference": max(
            (_relative_difference(a, b) for a, b in zip(first_params, second_params)), default=0.0
        ),
        "first_differing_step": first_step,
        "bitwise_identical": first_losses == second_losses and all(
            torch.equal(a, b) for a, b in zip(first_params, second_params)
        ),
    }
