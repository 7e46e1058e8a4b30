"""Shared by no-gradient, params-not-updated and frozen-params: name parameter lists briefly, float32 spacing."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

SHOWN_NAMES = 5


def names_text(params: Iterable[Mapping[str, Any]]) -> str:
    names = [p["name"] for p in params]
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def numel(params: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(p.get("numel", 0)) for p in params)


def float32_spacing(value: float) -> float:
    """Distance between neighbouring float32 numbers around |value| (2^-23 relative): an
    update smaller than this cannot change a float32 parameter of that size."""
    return 2.0 ** (math.frexp(abs(value))[1] - 24) if value else 2.0 ** -149
