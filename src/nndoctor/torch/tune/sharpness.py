"""Sharpness: the top eigenvalue of the loss Hessian on one batch, by Lanczos iteration (power
iteration for models too large to keep its vectors) with Hessian-vector products (reverse over reverse: the gradient is built once with
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

ITERATIONS = 40
# The iteration stops once the eigenvalue estimate moves less than this (relative).
TOLERANCE = 1e-4
# Lanczos keeps one float64 vector per iteration; beyond this memory, power iteration
# (one vector, slower when the top eigenvalues are close) is used instead.
LANCZOS_MEMORY_BYTES = 512 * 2**20


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

    if not curved:
        return 0.0, 0, False
    sizes = [p.numel() for p in params]
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(sum(sizes), generator=generator, dtype=torch.float64)
    if sum(sizes) * iterations * 8 <= LANCZOS_MEMORY_BYTES:
        top, steps = _lanczos(lambda v: _flat(hvp(_split(v, params, sizes))), start, iterations, tolerance)
        return top, steps, False
    vector = _split(start, params, sizes)
    top, steps = _power_iteration(hvp, vector, iterations, tolerance, shift=0.0)
    if top >= 0:
        return top, steps, False
    # The largest |λ| was negative: iterate on H − top·I, whose top eigenvalue is λ_max − top.
    value, more = _power_iteration(hvp, _split(torch.randn(sum(sizes), generator=generator, dtype=torch.float64),
                                               params, sizes), iterations, tolerance, shift=top)
    return value + top, steps + more, True


def _flat(parts: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([part.reshape(-1).to(torch.float64).cpu() for part in parts])


def _split(vector: torch.Tensor, params: list[torch.Tensor], sizes: list[int]) -> list[torch.Tensor]:
    return [part.reshape(p.shape).to(dtype=p.dtype, device=p.device) for part, p in zip(torch.split(vector, sizes), params)]


def _lanczos(hvp: Any, start: torch.Tensor, iterations: int, tolerance: float) -> tuple[float, int]:
    """Lanczos with full reorthogonalisation: the top Ritz value of the tridiagonal matrix
    converges to λ_max far faster than power iteration when the top eigenvalues are close."""
    basis = [start / start.norm()]
    alphas: list[float] = []
    betas: list[float] = []
    previous = None
    for step in range(1, iterations + 1):
        w = hvp(basis[-1])
        alpha = float(w @ basis[-1])
        alphas.append(alpha)
        for q in basis:  # full reorthogonalisation (twice is enough in floating point)
            w -= (w @ q) * q
        for q in basis:
            w -= (w @ q) * q
        tridiagonal = torch.diag(torch.tensor(alphas, dtype=torch.float64))
        if betas:
            off = torch.tensor(betas, dtype=torch.float64)
            tridiagonal += torch.diag(off, 1) + torch.diag(off, -1)
        top = float(torch.linalg.eigvalsh(tridiagonal).max())
        beta = float(w.norm())
        if not math.isfinite(top) or beta <= 1e-10 * max(abs(alpha), 1.0):
            return top, step
        if previous is not None and abs(top - previous) <= tolerance * max(abs(top), 1e-12):
            return top, step
        previous = top
        betas.append(beta)
        basis.append(w / beta)
    return top, iterations


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
