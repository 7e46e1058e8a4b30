"""Shared by no-gradient, params-not-updated and frozen-params: name parameter lists briefly."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SHOWN_NAMES = 5


def names_text(params: Iterable[Mapping[str, Any]]) -> str:
    names = [p["name"] for p in params]
    shown = ", ".join(names[:SHOWN_NAMES])
    return shown + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")


def numel(params: Iterable[Mapping[str, Any]]) -> int:
    return sum(int(p.get("numel", 0)) for p in params)
