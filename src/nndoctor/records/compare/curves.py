"""The loss curves of two runs in sentences: where either diverged or went non-finite, and
how each curve went from its start to its end ("A's training loss fell 2.3 → 0.41 over
600 steps; B's rose …: B ends 5× higher")."""
from __future__ import annotations

import math
from typing import Any

from nndoctor.core.numbers import num
from nndoctor.records.compare.findings import first_finding
from nndoctor.records.store import RunRow

# Final losses within this factor of each other are "similar" (noise of a short run).
SIMILAR_LOSS_FACTOR = 1.2
DIVERGENCE_RULES = ("non-finite", "loss-diverging", "exploding-gradients", "activation-blowup")


def series_points(series: dict[str, Any] | None) -> list[tuple[int, float]]:
    """The kept points of a bounded series, raw where kept raw, bucket means between."""
    if not isinstance(series, dict):
        return []
    points = {int(s): float(v) for s, v in series.get("head", [])}
    raw_end = max(points) if points else -1
    recent = [(int(s), float(v)) for s, v in series.get("recent", [])]
    recent_start = recent[0][0] if recent else math.inf
    for bucket in series.get("history", []):
        first, last, mean = int(bucket[0]), int(bucket[1]), float(bucket[3])
        if first > raw_end and last < recent_start:
            points[(first + last) // 2] = mean
    points.update(recent)
    return sorted(points.items())


def _level(points: list[tuple[int, float]], start: bool) -> float | None:
    """The median of the first (or last) tenth of the kept points, 5 to 50 of them: one
    noisy batch must not decide whether a curve fell."""
    width = max(5, min(50, len(points) // 10))
    chosen = sorted(v for _, v in (points[:width] if start else points[-width:]))
    if not chosen:
        return None
    middle = len(chosen) // 2
    return chosen[middle] if len(chosen) % 2 else (chosen[middle - 1] + chosen[middle]) / 2


def _series(run: RunRow, name: str) -> dict[str, Any] | None:
    report = run.report or {}
    series = (report.get("context") or {}).get("series") or {}
    value = series.get(name) if isinstance(series, dict) else None
    return value if isinstance(value, dict) else None


def curve_lines(a: RunRow, b: RunRow) -> tuple[list[str], list[str]]:
    """(lines about the loss curves, the divergence sentences for the headline)."""
    lines: list[str] = []
    headline: list[str] = []
    for this, other, label, other_label in ((b, a, "B", "A"), (a, b, "A", "B")):
        broke = first_finding(this, DIVERGENCE_RULES)
        if broke is None:
            continue
        same = first_finding(other, (broke["rule"],))
        at = f" at step {broke['step']}" if broke.get("step") is not None else ""
        sentence = (f"{label} went non-finite{at}" if broke["rule"] == "non-finite"
                    else f"{label} diverged{at} ({broke['rule']})")
        if same is None:
            sentence += f"; {other_label} did not"
            headline.append(sentence)
        lines.append(sentence)
    for name, title in (("loss", "training loss"), ("val_loss", "validation loss")):
        points_a, points_b = series_points(_series(a, name)), series_points(_series(b, name))
        if not points_a or not points_b:
            missing = " and ".join(label for label, p in (("A", points_a), ("B", points_b)) if not p)
            if name == "loss":
                lines.append(f"no {title} curve was recorded for {missing}: the curves cannot be compared")
            continue
        lines.append(_curve_sentence(title, points_a, points_b))
    return lines, headline


def _curve_sentence(title: str, points_a: list[tuple[int, float]], points_b: list[tuple[int, float]]) -> str:
    start_a, end_a = _level(points_a, True), _level(points_a, False)
    start_b, end_b = _level(points_b, True), _level(points_b, False)
    trend_a = _trend(start_a, end_a)
    trend_b = _trend(start_b, end_b)
    text = (f"A's {title} {trend_a} {num(start_a)} → {num(end_a)} over {points_a[-1][0] + 1:,} steps; "
            f"B's {trend_b} {num(start_b)} → {num(end_b)} over {points_b[-1][0] + 1:,} steps")
    if end_a and end_b and end_a > 0 and end_b > 0:
        ratio = end_b / end_a
        if ratio >= SIMILAR_LOSS_FACTOR:
            text += f": B ends {num(ratio)}× higher"
        elif ratio <= 1 / SIMILAR_LOSS_FACTOR:
            text += f": B ends {num(1 / ratio)}× lower"
        else:
            text += ": they end at about the same level"
    return text


def _trend(start: float | None, end: float | None) -> str:
    if start is None or end is None:
        return "went"
    if end < start / SIMILAR_LOSS_FACTOR:
        return "fell"
    if end > start * SIMILAR_LOSS_FACTOR:
        return "rose"
    return "stayed flat"
