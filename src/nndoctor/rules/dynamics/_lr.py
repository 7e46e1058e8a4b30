"""Reading the learning rate series of `optimizer_groups` (no framework imports)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nndoctor.rules.dynamics._series import all_points, is_complete, recent_points


def lr_points(series: Mapping[str, Any]) -> list[tuple[int, float, float]]:
    """(step, lowest lr, highest lr) in step order: every point when all were kept, else the
    history buckets (their min and max) followed by the raw recent points."""
    if is_complete(series):
        return [(step, value, value) for step, value in all_points(series)]
    recent = recent_points(series)
    first_recent = recent[0][0] if recent else None
    buckets = [(int(b[0]), float(b[4]), float(b[5])) for b in series.get("history", [])
               if first_recent is None or int(b[1]) < first_recent]
    return buckets + [(step, value, value) for step, value in recent]


def warmup_end(groups: Sequence[Mapping[str, Any]]) -> int | None:
    """The first step at which every param group's lr reached 90 % of its peak so far: a
    warm-up that is still rising ends 'now', so no step of it counts as stuck."""
    ends = []
    for group in groups:
        lr = group.get("lr_series")
        if not lr or not lr.get("count"):
            continue
        points = lr_points(lr)
        peak = max(high for _, _, high in points)
        if peak > 0:
            ends.append(next(step for step, _, high in points if high >= 0.9 * peak))
    return max(ends) if ends else None
