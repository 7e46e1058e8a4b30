"""`nndoctor.tune.noise_scale(model, loader_or_batches, loss_fn)`: the simple gradient
noise scale at the current weights, from per-micro-batch gradients.

Each batch of B samples is cut into `micro_batches` micro batches of b = B // k samples;
their gradients give |G_small|² (the mean of their squared norms), and the mean of all of
them the gradient of the big batch (every sample measured). The estimator and its
uncertainty are framework-free (`nndoctor.tune.gradient_noise`). Memory: one float32
gradient-sized vector per batch (`max_batches` of them). This assumes a loss that averages over the
samples (reduction="mean") and samples that do not interact in the forward pass
(BatchNorm couples them: its micro-batch gradients are noisier than B_small suggests).
"""
from __future__ import annotations

import time
from typing import Any

import torch

from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.structures import iter_tensors, map_batch_tensors
from nndoctor.torch.preflight.validation import PreflightOptions, check_loss_fn, check_loss_value, check_model
from nndoctor.torch.preflight.workbench import Workbench, seed_everything
from nndoctor.torch.tune.batches import collect_batches
from nndoctor.torch.tune.trainer import measured_on_copies
from nndoctor.tune.gradient_noise import simple_noise_scale
from nndoctor.tune.results import NoiseScaleResult

CALLER = "noise_scale()"
# Eight micro batches per batch: enough to average |G_small|², while B_small = B/8 keeps
# the two batch sizes far apart (the estimator divides by 1/B_small − 1/B_big).
MICRO_BATCHES = 8


def _flat_gradient(bench: Workbench, model: torch.nn.Module, params: list[torch.Tensor], inputs: Any,
                   targets: Any) -> torch.Tensor:
    with torch.enable_grad():
        loss = check_loss_value(bench.loss(model, inputs, targets))
        grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1).to(torch.float64)
                      for g, p in zip(grads, params)])


def _samples(value: Any, n: int, start: int, count: int) -> Any:
    """Samples start … start+count of every batch tensor (the others pass through)."""
    return map_batch_tensors(value, n, lambda tensor: tensor[start:start + count])


def noise_scale(model: Any, loader_or_batches: Any, loss_fn: Any, *, micro_batches: int = MICRO_BATCHES,
                max_batches: int = 16, seed: int = 0) -> NoiseScaleResult:
    """B_simple = tr(Σ)/|G|² at the model's current weights, with a jackknife standard
    error over the batches; nothing of the model or the RNG states is left changed."""
    check_model(model)
    check_loss_fn(loss_fn)
    if isinstance(micro_batches, bool) or not isinstance(micro_batches, int) or micro_batches < 2:
        raise UsageError(f"{CALLER}: micro_batches must be an int ≥ 2, got {micro_batches!r}")
    batches = collect_batches(loader_or_batches, max_batches=max_batches, caller=CALLER, held_out=0)
    size = batches.batch_size
    small = size // micro_batches
    if small < 1:
        raise UsageError(f"{CALLER}: batches of {size} samples cannot be cut into {micro_batches} micro batches; "
                         "pass larger batches or fewer micro_batches")
    big = small * micro_batches
    started = time.perf_counter()
    bench = Workbench(model, batches.first(), loss_fn, None, PreflightOptions())
    sums: list[torch.Tensor] = []  # per batch: the sum of its micro-batch gradients
    squares: list[float] = []
    with measured_on_copies(model, None):
        seed_everything(seed)
        copy = bench.fresh_model()
        copy.train()
        params = [p for p in copy.parameters() if p.requires_grad]
        if not params:
            raise UsageError(f"{CALLER}: the model has no trainable parameters")
        for inputs, targets in batches.train:
            n = int(next(iter_tensors(inputs)).shape[0])
            if n < big:
                continue  # a short last batch
            total, square = None, 0.0
            for j in range(micro_batches):
                gradient = _flat_gradient(bench, copy, params, _samples(inputs, n, j * small, small),
                                          _samples(targets, n, j * small, small))
                square += float(gradient @ gradient)
                total = gradient if total is None else total + gradient
            sums.append(total.to(torch.float32))
            squares.append(square)
    if len(sums) < 1:
        raise UsageError(f"{CALLER}: no batch had {big} samples")
    stacked = torch.stack(sums).to(torch.float64)
    gram = (stacked @ stacked.T).tolist()
    estimate = simple_noise_scale(gram, squares, [micro_batches] * len(sums), small)
    low = high = None
    if estimate.b_simple is not None and estimate.standard_error is not None:
        low = max(1.0, estimate.b_simple - estimate.standard_error)
        high = estimate.b_simple + estimate.standard_error
    note = None
    if estimate.b_simple is None:
        note = (f"the gradient signal |G|² estimate ({estimate.gradient_norm_squared:.3g}) is not above 0: "
                f"the noise dominates at every batch size up to {small * micro_batches * len(sums)}; measure with more batches")
    return NoiseScaleResult(
        b_simple=estimate.b_simple, b_simple_low=low, b_simple_high=high, trace_sigma=estimate.trace_sigma,
        gradient_norm_squared=estimate.gradient_norm_squared, small_batch=small, big_batch=small * micro_batches * len(sums),
        groups=len(sums), user_batch_size=size, note=note, seconds=round(time.perf_counter() - started, 3))
