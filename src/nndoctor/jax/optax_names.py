"""Human names for optax transformations, for messages ("with adamw(lr=0.0003) the loss…").

optax objects are (init, update) pairs of closures; they do not know their own name or
learning rate. `remember(tx, text)` records the constructor call when nndoctor saw it
(`nndoctor run` wraps optax's constructors); otherwise `describe` reads the closures: the
inner transformations in order, the learning rate from the final `scale(-lr)` and the
weight decay from `add_decayed_weights`.
"""
from __future__ import annotations

from typing import Any

_NAMES: dict[int, tuple[Any, str]] = {}  # id(tx) → (tx kept alive, name)
_PLUMBING = {"chain", "with_extra_args_support", "named_chain", "init_empty_state", "inject_hyperparams",
             "identity"}
MAX_DEPTH = 6


def remember(tx: Any, text: str) -> None:
    _NAMES[id(tx)] = (tx, text)


def describe(tx: Any) -> str:
    known = _NAMES.get(id(tx))
    if known is not None and known[0] is tx:
        return known[1]
    parts: list[tuple[str, list[float]]] = []
    _walk(getattr(tx, "update", None), parts, set(), 0)
    names = [name for name, _ in parts]
    settings = []
    if "scale" in names:
        numbers = dict(parts)["scale"]
        if numbers:
            settings.append(f"lr={-numbers[0]:g}")
    if "add_decayed_weights" in names and dict(parts)["add_decayed_weights"]:
        settings.append(f"weight_decay={dict(parts)['add_decayed_weights'][0]:g}")
    core = [name.removeprefix("scale_by_") for name in names if name not in ("scale", "add_decayed_weights")]
    label = "+".join(core) if core else ("sgd" if "scale" in names else "optax transformation")
    return f"{label}({', '.join(settings)})" if settings else label


def _walk(function: Any, parts: list[tuple[str, list[float]]], seen: set[int], depth: int) -> None:
    if function is None or id(function) in seen or depth > MAX_DEPTH:
        return
    seen.add(id(function))
    owner = getattr(function, "__qualname__", "").split(".<locals>")[0]
    numbers = []
    for cell in getattr(function, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if callable(value):
            _walk(value, parts, seen, depth + 1)
        elif isinstance(value, (tuple, list)):
            for item in value:
                if callable(item):
                    _walk(item, parts, seen, depth + 1)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            numbers.append(float(value))
    if function.__name__ in ("update_fn", "update") and owner not in _PLUMBING and owner:
        parts.append((owner, numbers))
