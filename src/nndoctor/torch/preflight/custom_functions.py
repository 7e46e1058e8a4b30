"""Numerically check the backward of custom `torch.autograd.Function`s used by the model
(001: "check that you work with the correct gradient" when gradients are written by hand).

The autograd graph of the loss names every custom Function (its nodes are
`BackwardCFunction`s). One forward records the arguments of each Function's first call;
then, in float64, the analytic directional derivative uᵀ·J·v from its backward is
compared with the central finite difference uᵀ·(f(x+εv) − f(x−εv))/2ε for a few random
directions. Deliberate surrogate gradients are recorded as such so the rule can tell them
apart: a backward that is exactly the negated derivative (gradient reversal) or that is
non-zero where the forward is flat (straight-through estimators).
"""
from __future__ import annotations

from typing import Any

import torch

from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.structures import map_tensors
from nndoctor.torch.preflight.workbench import ExperimentUnavailable, Workbench

EPSILON = 1e-6  # central differences in float64: truncation and rounding errors ≈ 1e-9
LOW_PRECISION_EPSILON = 1e-2  # float32 outputs: truncation ≈ 1e-4, rounding ≈ 1e-5 relative
DIRECTIONS = 3
MAX_FUNCTIONS = 8


def custom_function_classes(loss: torch.Tensor) -> list[type]:
    found: list[type] = []
    seen: set[int] = set()
    stack = [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, torch.autograd.function.BackwardCFunction):
            cls = getattr(node, "_forward_cls", None)
            if cls is not None and cls not in found:
                found.append(cls)
        stack.extend(child for child, _ in getattr(node, "next_functions", ()))
    return found


def _record_calls(bench: Workbench, classes: list[type]) -> dict[type, tuple]:
    recorded: dict[type, tuple] = {}
    saved = {cls: cls.__dict__.get("apply") for cls in classes}
    for cls in classes:
        original = cls.apply

        def recording_apply(inner_cls: type, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if inner_cls not in recorded:
                recorded[inner_cls] = (map_tensors(args, lambda t: t.detach().clone()), dict(kwargs))
            return _original(*args, **kwargs)

        cls.apply = classmethod(recording_apply)
    try:
        with torch.no_grad():
            bench.loss(bench.fresh_model(), bench.batch.inputs, bench.batch.targets)
    finally:
        for cls, value in saved.items():
            if value is None:
                del cls.apply
            else:
                cls.apply = value
    return recorded


def _outputs(cls: type, args: tuple, kwargs: dict) -> list[torch.Tensor]:
    result = cls.apply(*args, **kwargs)
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [t for t in items if isinstance(t, torch.Tensor) and t.is_floating_point()]


def check_function(cls: type, args: tuple, kwargs: dict, seed: int) -> dict[str, Any]:
    """Compare backward with finite differences, in float64 when the Function allows it,
    else in the dtypes it was called with (and a larger step)."""
    try:
        return _check(cls, args, kwargs, seed, torch.float64)
    except Exception:  # noqa: BLE001 — e.g. a float32 buffer inside forward
        return _check(cls, args, kwargs, seed, None)


def _check(cls: type, args: tuple, kwargs: dict, seed: int, dtype: torch.dtype | None) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(seed)
    leaves: list[torch.Tensor] = []

    def as_leaf(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.is_floating_point():
            leaf = (tensor.to(dtype) if dtype is not None else tensor.clone()).requires_grad_()
            leaves.append(leaf)
            return leaf
        return tensor

    x = map_tensors(args, as_leaf)
    if not leaves:
        return {"name": cls.__qualname__, "status": "skipped", "detail": "no floating-point arguments"}
    worst, numeric_norm, analytic_norm, reversed_all = 0.0, 0.0, 0.0, True
    precise = True
    for _ in range(DIRECTIONS):
        v = [torch.randn(t.shape, generator=generator, dtype=torch.float64).to(t) for t in leaves]
        with torch.enable_grad():
            outs = _outputs(cls, x, kwargs)
            u = [torch.randn(o.shape, generator=generator, dtype=torch.float64).to(o) for o in outs]
            projected = sum((o * w).sum() for o, w in zip(outs, u))
            grads = torch.autograd.grad(projected, leaves, allow_unused=True)
        precise = precise and all(o.dtype == torch.float64 for o in outs)
        eps = EPSILON if precise else LOW_PRECISION_EPSILON
        analytic = float(sum((g.double() * d.double()).sum() for g, d in zip(grads, v) if g is not None))
        with torch.no_grad():
            plus = _shifted(cls, x, kwargs, leaves, v, eps)
            minus = _shifted(cls, x, kwargs, leaves, v, -eps)
            numeric = float(sum(((p.double() - q.double()) * w.double()).sum() for p, q, w in zip(plus, minus, u))) / (2 * eps)
        scale = max(abs(numeric), abs(analytic), 1e-8)
        worst = max(worst, abs(numeric - analytic) / scale)
        reversed_all = reversed_all and abs(numeric + analytic) / scale < 1e-4
        numeric_norm, analytic_norm = max(numeric_norm, abs(numeric)), max(analytic_norm, abs(analytic))
    # Deliberate surrogate gradients: exactly the negated derivative (gradient reversal),
    # or a non-zero backward where the forward is flat (straight-through estimators).
    return {"name": cls.__qualname__, "module": cls.__module__, "status": "checked",
            "precision": "float64" if precise else "low", "relative_error": worst,
            "numeric": numeric_norm, "analytic": analytic_norm,
            "negated": reversed_all and numeric_norm > 1e-8,
            "flat_forward": numeric_norm < 1e-8 < analytic_norm}


def _shifted(cls: type, args: Any, kwargs: dict, leaves: list[torch.Tensor], v: list[torch.Tensor], eps: float) -> list[torch.Tensor]:
    moved = iter([leaf.detach() + eps * d for leaf, d in zip(leaves, v)])
    shifted = map_tensors(args, lambda t: next(moved) if t.is_floating_point() else t)
    return _outputs(cls, shifted, kwargs)


def run(bench: Workbench, m: Measurements) -> None:
    with torch.enable_grad():
        loss = bench.loss(bench.fresh_model(), bench.batch.inputs, bench.batch.targets)
    classes = custom_function_classes(loss)[:MAX_FUNCTIONS]
    if not classes:
        m["custom_functions"] = []
        return
    recorded = _record_calls(bench, classes)
    results = []
    for cls in classes:
        if cls not in recorded:
            results.append({"name": cls.__qualname__, "status": "skipped", "detail": "call not recorded"})
            continue
        args, kwargs = recorded[cls]
        try:
            results.append(check_function(cls, args, kwargs, bench.options.seed))
        except Exception as error:  # noqa: BLE001 — e.g. a Function that only works in float32
            results.append({"name": cls.__qualname__, "status": "skipped",
                            "detail": f"{type(error).__name__}: {str(error)[:200]}"})
    if not results:
        raise ExperimentUnavailable("no custom autograd.Function call could be recorded")
    m["custom_functions"] = results
