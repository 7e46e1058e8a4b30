"""Formatting shared by the learning-rate rules."""
from __future__ import annotations


def lr_text(lr: float | None) -> str:
    """1e-3 style for round powers of ten, 3 significant digits otherwise."""
    if lr is None:
        return "?"
    text = f"{lr:.2g}"
    return text.replace("e-0", "e-").replace("e+0", "e")
