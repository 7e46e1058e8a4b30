"""Does the model learn more from the real inputs than from zeroed or random ones
(003 §4.5.2 #4, §4.5.3 #9)?

Copies are trained with Adam 1e-3 on the same targets, once with every input tensor
zeroed and once with random values of the same scale (random token ids for integer
inputs), and compared with the real-input overfit run after the same number of steps. With zeroed inputs the
model can learn only the label prior; a model that does no better with the real inputs
ignores or destroys them. Boolean tensors (masks) are kept, because masking everything
is not "no information" but a different, often invalid, input; nor are the targets a
model takes among its inputs (`labels=` of transformers models).
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.core.preflight_protocol import COMPARISON_STEPS, clearly_better, tail_drop
from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.structures import TARGET_KEYS, map_batch_tensors
from nndoctor.torch.preflight.workbench import (
    ExperimentUnavailable, Workbench, disable_dropout, seed_everything,
)




def _perturbed(inputs: Any, n_samples: int, how: str, seed: int) -> Any:
    generator = torch.Generator().manual_seed(seed)

    def replace(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.dtype == torch.bool:
            return tensor
        if how == "zero":
            return torch.zeros_like(tensor)
        if tensor.is_floating_point():
            values = tensor.detach().float()
            std = float(values.std()) if values.numel() > 1 else 1.0
            noise = torch.randn(tensor.shape, generator=generator) * (std or 1.0) + float(values.mean())
            return noise.to(device=tensor.device, dtype=tensor.dtype)
        if tensor.is_complex():
            return torch.zeros_like(tensor)
        low, high = int(tensor.min()), int(tensor.max())
        return torch.randint(low, high + 1, tensor.shape, generator=generator).to(device=tensor.device, dtype=tensor.dtype)

    return map_batch_tensors(inputs, n_samples, replace, TARGET_KEYS)


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _baseline(bench: Workbench, reference: dict[str, Any], how: str, steps: int) -> tuple[Any, Any, Any, list[float]]:
    """(model, optimizer, inputs, losses) of a copy trained `steps` steps on perturbed inputs."""
    seed_everything(bench.options.seed)
    model = bench.fresh_model()
    disable_dropout(model)
    optimizer = bench.adam(model)
    inputs = _perturbed(reference["inputs"], reference["samples"], how, bench.options.seed)
    with torch.enable_grad():
        losses = bench.train(model, optimizer, inputs, reference["targets"], steps)
    return model, optimizer, inputs, losses


def run(bench: Workbench, m: Measurements) -> None:
    reference = bench.results.get("reference_run")
    if reference is None:
        raise ExperimentUnavailable("the overfit experiment did not run, so there is no real-input run to compare")
    total = reference["steps"]
    if total == 0:
        raise ExperimentUnavailable("the real-input run stopped before its first update")
    steps = min(total, COMPARISON_STEPS)
    real = reference["losses"]
    zero_losses: list[float] = []
    try:
        model, optimizer, inputs, zero_losses = _baseline(bench, reference, "zero", steps)
        zero = _finite(zero_losses[-1])
        if zero is not None and steps < total and not clearly_better(real[steps], zero, reference["floor"]):
            # Slow learners (autoencoders, small LSTMs) use their input only later: compare
            # at the end of the real run instead of deciding on an early, ambiguous point.
            with torch.enable_grad():
                zero_losses += bench.train(model, optimizer, inputs, reference["targets"], total - steps)[1:]
            zero, steps = _finite(zero_losses[-1]), total
    except Exception:  # noqa: BLE001 — e.g. all-zero ids the model rejects: no baseline
        zero = None
    try:
        random = _finite(_baseline(bench, reference, "random", steps)[3][-1])
    except Exception:  # noqa: BLE001
        random = None
    m["input_sensitivity"] = {
        "steps": steps,
        "samples": reference["samples"],
        "initial": reference["initial"],
        "floor": reference["floor"],
        "real_final": real[steps],
        "zero_final": zero,
        "random_final": random,
        # Fall of each loss over the last quarter of the compared steps: a model that uses
        # its input, however slowly, keeps falling after the zero-input copy has settled on
        # the label prior; one that ignores it follows the zero-input copy step for step.
        "real_tail_drop": tail_drop(real[: steps + 1]),
        "zero_tail_drop": tail_drop(zero_losses) if zero is not None else None,
    }

