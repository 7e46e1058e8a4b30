"""Formatting shared by the learning-rate rules."""
from __future__ import annotations

from nndoctor.core.numbers import num


def lr_text(lr: float | None) -> str:
    """1e-3 style for round powers of ten, 3 significant digits otherwise."""
    if lr is None:
        return "?"
    text = f"{num(lr, 2)}"
    return text.replace("e-0", "e-").replace("e+0", "e")
