"""The hyperparameters of two runs: each captured setting under the name a user says
("lr", "batch size", "model's parameter count"), and a sentence per setting that differs
("B's lr is 10× A's (0.1 vs 0.01)")."""
from __future__ import annotations

from typing import Any

from nndoctor.core.numbers import num

# A ratio at least this far from 1 is said as "N×": smaller changes read better as values.
RATIO_WORTH_SAYING = 1.5
# Settings listed when they differ but never named in the headline: how the update is
# computed rather than its size, group sizes, and initial_lr (a scheduler's copy of lr).
SECONDARY_SETTINGS = {"foreach", "fused", "capturable", "differentiable", "maximize", "params", "values",
                      "initial_lr", "base_lrs"}
# The limit of a clipping function: torch's clip_grad_norm_/clip_grad_value_, optax's
# clip_by_global_norm/clip/clip_by_block_rms/adaptive_grad_clip.
CLIP_LIMITS = ("max_norm", "clip_value", "max_delta", "threshold", "clipping")


def flatten_hyperparameters(hp: dict[str, Any]) -> dict[str, Any]:
    """{"lr": 0.01, "optimizer": "SGD", …}: each setting under the name a user says."""
    flat: dict[str, Any] = {}
    optimizers = hp.get("optimizers") or []
    for index, optimizer in enumerate(optimizers):
        prefix = "" if index == 0 else f"optimizer {index + 1}'s "
        flat[f"{prefix}optimizer" if index == 0 else f"optimizer {index + 1}"] = optimizer.get("class")
        groups = optimizer.get("param_groups") or []
        for group_index, group in enumerate(groups):
            where = "" if len(groups) == 1 else f" of param group {group_index}"
            for key, value in group.items():
                flat[f"{prefix}{key}{where}"] = value
        if optimizer.get("settings") is not None:  # an optax optimizer (JAX)
            label, settings = _optax(optimizer)
            flat[f"{prefix}optimizer" if index == 0 else f"optimizer {index + 1}"] = label
            flat.update({f"{prefix}{key}": value for key, value in settings.items()})
    for index, scheduler in enumerate(hp.get("schedulers") or []):
        name = "scheduler" if index == 0 else f"scheduler {index + 1}"
        flat[name] = scheduler.get("class")
        for key, value in (scheduler.get("settings") or {}).items():
            flat[f"{name}'s {key}"] = value
    for index, model in enumerate(hp.get("models") or []):
        name = "model" if index == 0 else f"model {model.get('label', index + 1)}"
        flat[name] = model.get("class")
        flat[f"{name}'s parameter count"] = model.get("parameters")
        flat[f"{name}'s dtype"] = ", ".join(model.get("dtypes") or []) or None
    for key in ("batch_size", "backwards_per_step"):
        if hp.get(key) is not None:
            flat[key.replace("_", " ")] = hp[key]
    for entry in hp.get("autocast") or []:
        flat[f"autocast on {entry.get('device')}"] = entry.get("dtype")
    for entry in hp.get("gradient_clipping") or []:
        limit = next((key for key in CLIP_LIMITS if key in entry), "clip_value")
        flat[f"gradient clipping ({entry.get('function', '?').rsplit('.', 1)[-1]}) {limit}"] = entry.get(limit)
    return flat


def _optax(optimizer: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An optax optimizer's label and settings; a chain's are those of its parts (a setting
    two parts share is named after its part the second time; clipping is listed apart)."""
    settings = optimizer.get("settings") or {}
    parts = settings.get("transformations")
    if optimizer.get("class") != "chain" or not isinstance(parts, list):
        return str(optimizer.get("class")), dict(settings)
    names, flat = [], {}
    for part in parts:
        if not isinstance(part, dict):
            names.append(str(part))
            continue
        names.append(str(part.get("class")))
        part_settings = part.get("settings") or {}
        if "function" in part_settings:
            continue
        for key, value in part_settings.items():
            flat[key if key not in flat else f"{part.get('class')}'s {key}"] = value
    return f"chain({', '.join(names)})", flat


def hyperparameter_changes(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, bool]]:
    """(sentence, worth a headline) for every setting that differs."""
    flat_a, flat_b = flatten_hyperparameters(a or {}), flatten_hyperparameters(b or {})
    if not flat_a or not flat_b:
        return []
    sentences = []
    for key in dict.fromkeys([*flat_a, *flat_b]):
        value_a, value_b = flat_a.get(key), flat_b.get(key)
        if value_a == value_b:
            continue
        secondary = key.split(" of param group")[0].rsplit("'s ", 1)[-1] in SECONDARY_SETTINGS
        if key not in flat_a:
            sentences.append((f"B has {key} {_value(value_b)}; A has none", not secondary))
        elif key not in flat_b:
            sentences.append((f"A has {key} {_value(value_a)}; B has none", not secondary))
        else:
            sentences.append((_change(key, value_a, value_b), not secondary))
    return sentences


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _change(key: str, value_a: Any, value_b: Any) -> str:
    number_a, number_b = _number(value_a), _number(value_b)
    if number_a and number_b and number_a * number_b > 0:
        ratio = number_b / number_a
        if ratio >= RATIO_WORTH_SAYING:
            return f"B's {key} is {num(ratio)}× A's ({num(number_b)} vs {num(number_a)})"
        if ratio <= 1 / RATIO_WORTH_SAYING:
            return f"B's {key} is {num(1 / ratio)}× smaller than A's ({num(number_b)} vs {num(number_a)})"
    return f"B's {key} is {_value(value_b)} (A: {_value(value_a)})"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return num(value)
    if isinstance(value, list):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    return str(value)
