"""Reading the bounded series that DynamicsMonitor measures (no framework imports).

A series is `{"count", "head": [[step, value]...], "recent": [[step, value]...],
"history": [[first_step, last_step, count, mean, min, max]...]}`: the first points, the
last points, and the whole run in at most ~128 merged buckets (see
nndoctor.live.series). These helpers give the rules robust summaries of it.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Series = Mapping[str, Any]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    position = q * (len(ordered) - 1)
    low = int(math.floor(position))
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def all_points(series: Series) -> list[tuple[int, float]]:
    """Every point when the run was short enough to keep them all, else head + recent."""
    head = [(int(s), float(v)) for s, v in series.get("head", [])]
    recent = [(int(s), float(v)) for s, v in series.get("recent", [])]
    count = int(series.get("count", 0))
    if count <= len(head):
        return head
    overlap = len(head) + len(recent) - count
    return head + (recent[overlap:] if overlap > 0 else recent)


def is_complete(series: Series) -> bool:
    """True when `all_points` holds every point of the run (no gap between head and recent)."""
    return len(all_points(series)) == int(series.get("count", 0))


def head_values(series: Series, n: int) -> list[float]:
    return [float(v) for _, v in series.get("head", [])[:n]]


def recent_values(series: Series, n: int | None = None) -> list[float]:
    values = [float(v) for _, v in series.get("recent", [])]
    return values if n is None else values[-n:]


def recent_points(series: Series, n: int | None = None) -> list[tuple[int, float]]:
    points = [(int(s), float(v)) for s, v in series.get("recent", [])]
    return points if n is None else points[-n:]


def history(series: Series) -> list[tuple[int, int, int, float]]:
    """(first_step, last_step, count, mean) per bucket, oldest first."""
    return [(int(b[0]), int(b[1]), int(b[2]), float(b[3])) for b in series.get("history", [])]


def smoothed_history(series: Series, width: int = 7) -> list[tuple[int, int, float]]:
    """Bucket means smoothed by a running median over `width` buckets, weighted so that a
    bucket of one noisy minibatch loss cannot pose as the best loss of the run."""
    buckets = history(series)
    smoothed = []
    half = width // 2
    for i, (first, last, _, _) in enumerate(buckets):
        window = [b[3] for b in buckets[max(0, i - half): i + half + 1]]
        smoothed.append((first, last, median(window)))
    return smoothed


def last_value(series: Series) -> tuple[int, float] | None:
    recent = series.get("recent") or []
    return (int(recent[-1][0]), float(recent[-1][1])) if recent else None


def lag1_autocorrelation_detrended(values: Sequence[float]) -> float:
    """Lag-1 autocorrelation of the residuals of a least-squares line through `values`.

    Independent minibatch noise gives about 0; a loss that zig-zags (up, down, up…) gives
    close to -1; a curved but smooth trend gives a positive value.
    """
    n = len(values)
    if n < 3:
        return math.nan
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    sxx = sum((i - mean_x) ** 2 for i in range(n))
    slope = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values)) / sxx
    residuals = [y - (mean_y + slope * (i - mean_x)) for i, y in enumerate(values)]
    power = sum(r * r for r in residuals)
    if power <= 0:
        return math.nan
    return sum(a * b for a, b in zip(residuals, residuals[1:])) / power


def rounded(value: float, digits: int = 4) -> float:
    """Round to significant digits for evidence (plain floats stay readable)."""
    if not math.isfinite(value) or value == 0:
        return value
    return round(value, -int(math.floor(math.log10(abs(value)))) + digits - 1)


def trimmed_mean(values: Sequence[float], trim: float = 0.1) -> float:
    """Mean without the lowest and highest `trim` share: a single loss spike cannot move it,
    yet it estimates the same quantity as the bucket means of the history."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    cut = int(len(ordered) * trim)
    kept = ordered[cut:len(ordered) - cut] or ordered
    return sum(kept) / len(kept)


def loss_levels(series: Series, start_points: int = 20, recent_count: int = 100) -> dict[str, Any]:
    """Levels of a noisy loss curve: `initial` (first 5 losses), `start` (first
    `start_points`), `recent` (last `recent_count`), all trimmed means, and `best`, the
    lowest point of the smoothed history (never above the start)."""
    smooth = smoothed_history(series)
    start = trimmed_mean(head_values(series, start_points))
    best_first, _, best = min(smooth, key=lambda bucket: bucket[2])
    if start <= best:
        best, best_first = start, smooth[0][0]
    return {
        "initial": trimmed_mean(head_values(series, 5)),
        "start": start,
        "best": best,
        "best_step": best_first,
        "recent": trimmed_mean(recent_values(series, recent_count)),
        "smooth": smooth,
    }


def loss_rise(levels: Mapping[str, Any], rise_fraction: float) -> tuple[float, float, float]:
    """(rise above the best, the limit for calling it divergence, the scale): the limit is
    `rise_fraction` of the larger of the progress made (start - best) and |start|."""
    scale = max(levels["start"] - levels["best"], abs(levels["start"]))
    return levels["recent"] - levels["best"], rise_fraction * scale, scale


def block_levels(series: Mapping[str, Any], points_per_block: int,
                 level: Callable[[Sequence[float]], float] = median) -> list[tuple[int, int, float]]:
    """(first step, last step, level) of consecutive blocks of at least `points_per_block`
    losses: `level` (the median by default) of the history buckets' means in the block
    (single losses in a short run, averages of many in a long one), so one noisy batch
    cannot move a level. A last block of fewer than half the points is left out."""
    blocks: list[tuple[int, int, float]] = []
    current: list[tuple[int, int, int, float]] = []
    for bucket in history(series):
        current.append(bucket)
        if sum(b[2] for b in current) >= points_per_block:
            blocks.append((current[0][0], current[-1][1], level([b[3] for b in current])))
            current = []
    if current and (not blocks or 2 * sum(b[2] for b in current) >= points_per_block):
        blocks.append((current[0][0], current[-1][1], level([b[3] for b in current])))
    return blocks


def block_noise(blocks: Sequence[tuple[int, int, float]]) -> float:
    """Standard deviation of one block level, from the median absolute difference of
    neighbouring blocks (a slow trend barely changes neighbours)."""
    differences = [abs(b[2] - a[2]) for a, b in zip(blocks, blocks[1:])]
    return 1.4826 * median(differences) / math.sqrt(2) if len(differences) >= 2 else 0.0


def fitted_descent(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """(fall of a least-squares line from the first point to the last, its standard error)."""
    if len(points) < 3:
        return 0.0, math.inf
    xs = [float(s) for s, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= 0:
        return 0.0, math.inf
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    residual = sum((y - mean_y - slope * (x - mean_x)) ** 2 for x, y in zip(xs, ys)) / (len(xs) - 2)
    span = xs[-1] - xs[0]
    return -slope * span, math.sqrt(residual / sxx) * span
