"""The curves a run's report keeps (`report.context["series"]`), built from the dynamics
measurements any adapter hands the rules (nndoctor.core.measurements), so the HTML report,
the run record and `compare` can draw them after the run:

    {"loss": Series, "val_loss": Series,
     "grad_norm": {layer: Series}, "update_ratio": {layer: Series},
     "lr": {group: Series},
     "dead_fraction": {layer: Series}, "saturated_fraction": {layer: Series},
     "layers_left_out": {"grad_norm": 12, ...}}        # only when layers were left out

Each Series is a `BoundedSeries.to_dict()`, so the size is bounded however long the run:
a few hundred points for the losses and about a hundred per layer. What grows with the
model is the number of layers; past `MAX_LAYERS` per family an evenly spaced selection
across depth is kept (first and last included, layers named in a finding always), which
preserves the shape a heat map shows (vanishing towards the input, exploding at the top).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Rows of a readable heat map; also keeps a 200-layer model's report at a few hundred kB.
MAX_LAYERS = 48
PER_LAYER = {"grad_norm": "grad_norm_per_layer", "update_ratio": "update_ratio_per_layer"}
ACTIVATION_SHARES = {"dead_fraction": "dead_share", "saturated_fraction": "saturated_share"}


def report_series(parts: Sequence[Mapping[str, Any]], *, labels: Sequence[str] | None = None,
                  keep: Iterable[str] = ()) -> dict[str, Any]:
    """The bounded curves of a run from its measurements (one mapping per watched model;
    with several models, `labels` name them and prefix their layers). `keep`: layer names
    that must stay when layers are left out (those a finding points at)."""
    prefixes = [f"{label}." for label in labels] if labels and len(parts) > 1 else [""] * len(parts)
    keep = set(keep)
    series: dict[str, Any] = {}
    for name, key in (("loss", "loss_series"), ("val_loss", "eval_loss_series")):
        found = next((part[key] for part in parts if _is_series(part.get(key))), None)
        if found is not None:
            series[name] = found
    families: dict[str, dict[str, Any]] = {name: {} for name in (*PER_LAYER, "lr", *ACTIVATION_SHARES)}
    for prefix, part in zip(prefixes, parts):
        for name, key in PER_LAYER.items():
            for layer, values in (part.get(key) or {}).items():
                if _is_series(values):
                    families[name][prefix + layer] = values
        for group, values in _learning_rates(part).items():
            families["lr"].setdefault(group, values)
        for layer, record in (part.get("activation_stats") or {}).items():
            for name, share in ACTIVATION_SHARES.items():
                if isinstance(record, Mapping) and _is_series(record.get(share)):
                    families[name][prefix + layer] = record[share]
    left_out = {}
    for name, members in families.items():
        if not members:
            continue
        shown = _spread(list(members), keep)
        series[name] = {layer: members[layer] for layer in shown}
        if len(shown) < len(members):
            left_out[name] = len(members) - len(shown)
    if left_out:
        series["layers_left_out"] = left_out
    return series


def _learning_rates(part: Mapping[str, Any]) -> dict[str, Any]:
    """lr per parameter group: the recorder's `learning_rate_per_group`, or the torch
    adapter's per-group records (`optimizer_groups[i].lr_series`)."""
    rates = {group: values for group, values in (part.get("learning_rate_per_group") or {}).items()
             if _is_series(values)}
    groups = part.get("optimizer_groups") or []
    optimizers = {record.get("optimizer") for record in groups if isinstance(record, Mapping)}
    for record in groups:
        if isinstance(record, Mapping) and _is_series(record.get("lr_series")):
            name = f"group {record.get('group')}"
            if len(optimizers) > 1:
                name = f"{record.get('optimizer')} {name}"
            rates.setdefault(name, record["lr_series"])
    return rates


def _spread(names: list[str], keep: set[str]) -> list[str]:
    """At most MAX_LAYERS names in their order: the kept ones plus evenly spaced others."""
    if len(names) <= MAX_LAYERS:
        return names
    chosen = {name for name in names if name in keep}
    room = MAX_LAYERS - len(chosen)
    if room > 0:
        others = [name for name in names if name not in chosen]
        if room == 1:
            chosen.add(others[0])
        else:
            chosen.update(others[round(i * (len(others) - 1) / (room - 1))] for i in range(room))
    return [name for name in names if name in chosen]


def _is_series(value: Any) -> bool:
    return isinstance(value, Mapping) and bool(value.get("count")) and "history" in value


def add_series(report: Any, parts: Sequence[Mapping[str, Any]], labels: Sequence[str] | None = None) -> None:
    """Put the run's curves in `report.context["series"]`; a fault here becomes an
    internal-error finding (the report must survive it, and say so)."""
    from nndoctor.core.engine import internal_error_finding

    try:
        report.context["series"] = report_series(parts, labels=labels, keep=finding_layers(report.findings))
    except Exception as error:  # noqa: BLE001 — containment: the findings matter more than the curves
        report.findings.append(internal_error_finding("report series", error))


def finding_layers(findings: Iterable[Any]) -> set[str]:
    """The layer names findings point at (`where` as a name or a list of names)."""
    names: set[str] = set()
    for finding in findings:
        where = getattr(finding, "where", None)
        if isinstance(where, str):
            names.add(where)
        elif isinstance(where, (list, tuple)):
            names.update(item for item in where if isinstance(item, str))
    return names
