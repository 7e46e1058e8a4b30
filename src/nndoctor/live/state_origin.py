"""Where a NaN/Inf found in the model's state when the loss went bad came from: the same
verdict, and the same words, for every framework adapter (no framework import).

The adapter names the damaged entries (parameters and running statistics), the module of
the latest one, whether only running statistics are damaged, and whether finite steps came
first."""
from __future__ import annotations

from typing import Any


def state_origin(damaged: list[str], module: str, *, statistics_only: bool,
                 after_finite_steps: bool) -> dict[str, Any]:
    found = {"module": module, "parameters": damaged[:20]}
    if after_finite_steps and statistics_only:
        return {"origin": "statistics", **found,
                "detail": "the steps before were finite and every parameter is finite: only the BatchNorm running "
                          "statistics hold NaN/Inf, written by the forward pass of activations that had grown too "
                          f"large; the latest damaged module is {module}"}
    if after_finite_steps:
        return {"origin": "gradient", **found,
                "detail": "the steps before were finite, so the last update (a non-finite gradient or an "
                          "overflowing optimizer step) wrote NaN/Inf into the parameters; the latest damaged "
                          f"module in forward order is {module}"}
    return {"origin": "parameter", **found,
            "detail": "the parameters held NaN/Inf before the first loss (initialisation or a loaded checkpoint)"}
