"""Tuning aids that are measured: a learning-rate range test confirmed by a real sweep,
the gradient noise scale for the batch size, a weight-decay sweep.

    result = nndoctor.tune.lr_range(model, loader, loss_fn, optimizer)
    result.confirmed_lr, result.largest_stable_lr, result.report()

The judging and statistics (this package) are framework-free; the measurements live in
`nndoctor.torch.tune` and are imported when first used.
"""
from __future__ import annotations

from typing import Any

_LAZY = {
    "lr_range": ("nndoctor.torch.tune.lr_range", "lr_range"),
    "noise_scale": ("nndoctor.torch.tune.noise_scale", "noise_scale"),
    "weight_decay_sweep": ("nndoctor.torch.tune.weight_decay", "weight_decay_sweep"),
    "top_hessian_eigenvalue": ("nndoctor.torch.tune.sharpness", "top_hessian_eigenvalue"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        return getattr(importlib.import_module(module_name), attribute)
    raise AttributeError(f"module 'nndoctor.tune' has no attribute {name!r}")


__all__ = list(_LAZY)
