"""The run's loss curves in the report's context, for the record and for comparing runs.

`report.context["series"] = {"loss": …, "val_loss": …}`, each in `BoundedSeries.to_dict()`
form (bounded however long the run), taken from the measurements the rules were given.
"""
from __future__ import annotations

from typing import Any

SERIES_KEYS = {"loss": "loss_series", "val_loss": "eval_loss_series"}


def attach_series(report: Any, watcher: Any) -> None:
    """`watcher.measurements()` (one part per model) → the first model's loss series."""
    series: dict[str, Any] = {}
    for part in watcher.measurements():
        for name, key in SERIES_KEYS.items():
            value = part.get(key)
            if name not in series and isinstance(value, dict):
                series[name] = value
    if series:
        report.context["series"] = series
