"""Turn measured values into plain JSON types (evidence must survive a JSON round-trip)."""
from __future__ import annotations

import math
from typing import Any


def to_plain(value: Any) -> Any:
    """Convert numbers, arrays and tensors to int/float/str/bool/None, lists and dicts.

    Non-finite floats become the strings "nan", "inf", "-inf": strict JSON has no such
    numbers, and in nndoctor's evidence a NaN is exactly the thing worth showing.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite_name(value)
    if isinstance(value, dict):
        return {str(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_plain(item) for item in value]
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return to_plain(value.tolist())
    if hasattr(value, "item"):
        return to_plain(value.item())
    return str(value)


def _non_finite_name(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"
