"""Sharpness: the top eigenvalue of the loss Hessian on one batch, by power iteration with
Hessian-vector products (reverse over reverse: the gradient is built once with
create_graph, each product is one more backward through it — the product torch.func's
vjp-of-grad computes, without functorch's seconds of first-call initialisation).

Gradient descent on a quadratic with curvature λ is stable only for lr < 2/λ (with heavy-
ball momentum β: lr < (2 + 2β)/λ); training that starts above that limit makes the loss
grow along the sharpest direction first (Cohen et al. 2021, "edge of stability";
Lewkowycz et al. 2020: up to ~2× the limit the loss spikes and the net "catapults" to a
flatter region, beyond it training diverges). Preflight runs it as the `sharpness`
experiment (nndoctor.torch.preflight.sharpness).
"""
from __future__ import annotations

import math
from typing import Any

import torch

from nndoctor.torch.preflight.structures import call_model

ITERATIONS = 30
# Power iteration stops once the eigenvalue estimate moves less than this (relative).
TOLERANCE = 1e-3


def top_hessian_eigenvalue(model: torch.nn.Module, inputs: Any, targets: Any, loss_fn: Any, *,
                           iterations: int = ITERATIONS, tolerance: float = TOLERANCE, seed: int = 0) -> dict[str, Any]:
    """The largest (most positive) Hessian eigenvalue of loss_fn(model(inputs), targets)
    with respect to the trainable parameters, at the current weights. The model is used
    as it is (pass a copy with dropout off for a deterministic loss); its buffers
    (BatchNorm statistics) are put back afterwards."""
    params = [p for p in model.parameters() if p.requires_grad]
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        top, steps, shifted = _top_eigenvalue(model, params, inputs, targets, loss_fn, iterations, tolerance, seed)
    finally:
        # After the products: eval-mode BatchNorm uses its running statistics in the graph.
        with torch.no_grad():
            for buffer, value in buffers:
                buffer.copy_(value)
    return {"top_eigenvalue": float(top), "iterations": steps, "shifted": shifted,
            "parameters": int(sum(p.numel() for p in params))}


def _top_eigenvalue(model: torch.nn.Module, params: list[torch.Tensor], inputs: Any, targets: Any, loss_fn: Any,
                    iterations: int, tolerance: float, seed: int) -> tuple[float, int, bool]:
    with torch.enable_grad():
        loss = loss_fn(call_model(model, inputs), targets)
        grads = torch.autograd.grad(loss, params, create_graph=True, allow_unused=True)
    # Parameters whose gradient does not depend on any parameter have a zero Hessian block.
    curved = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]

    def hvp(vector: list[torch.Tensor]) -> list[torch.Tensor]:
        with torch.enable_grad():
            dot = sum((grads[i] * vector[i]).sum() for i in curved)
            parts = torch.autograd.grad(dot, [params[i] for i in curved], retain_graph=True, allow_unused=True)
        out = [torch.zeros_like(p) for p in params]
        for i, part in zip(curved, parts):
            if part is not None:
                out[i] = part.detach()
        return out

    generator = torch.Generator().manual_seed(seed)

    def random_vector() -> list[torch.Tensor]:
        return [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]

    if not curved:
        return 0.0, 0, False
    top, steps = _power_iteration(hvp, random_vector(), iterations, tolerance, shift=0.0)
    if top >= 0:
        return top, steps, False
    # The largest |λ| was negative: iterate on H − top·I, whose top eigenvalue is λ_max − top.
    value, more = _power_iteration(hvp, random_vector(), iterations, tolerance, shift=top)
    return value + top, steps + more, True


def _power_iteration(hvp: Any, vector: list[torch.Tensor], iterations: int, tolerance: float,
                     shift: float) -> tuple[float, int]:
    def norm(v: list[torch.Tensor]) -> float:
        return math.sqrt(sum(float((part * part).sum()) for part in v))

    scale = norm(vector)
    vector = [part / scale for part in vector]
    estimate = 0.0
    for step in range(1, iterations + 1):
        product = [h - shift * v for h, v in zip(hvp(vector), vector)]
        new = sum(float((h * v).sum()) for h, v in zip(product, vector))
        size = norm(product)
        if size == 0 or not math.isfinite(size):
            return new, step
        vector = [h / size for h in product]
        if step > 1 and abs(new - estimate) <= tolerance * max(abs(new), 1e-12):
            return new, step
        estimate = new
    return estimate, iterations
