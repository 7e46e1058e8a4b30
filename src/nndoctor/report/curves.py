"""From a bounded series (`BoundedSeries.to_dict()`: raw head and recent points plus the
whole run in buckets) to points a chart can draw, at a bounded count.

The head and the recent window are raw; the history buckets summarise everything (mean,
min, max). A curve takes the raw points where they exist and the buckets in between, then
bins the result to at most `max_points` (weighted by how many steps each point stands
for), keeping each bin's min and max as a band. A 1M-step run draws as a few hundred
points, the spread of the steps inside each one still visible.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_POINTS = 300


@dataclass
class Curve:
    steps: list[float]
    values: list[float]
    lows: list[float]
    highs: list[float]

    def points(self) -> list[tuple[float, float]]:
        return list(zip(self.steps, self.values))

    def band(self) -> list[tuple[float, float, float]]:
        return list(zip(self.steps, self.lows, self.highs))

    @property
    def last_step(self) -> float:
        return self.steps[-1] if self.steps else 0.0


def is_series(value: Any) -> bool:
    return (isinstance(value, Mapping) and isinstance(value.get("history"), list)
            and isinstance(value.get("head"), list) and isinstance(value.get("recent"), list))


def curve(series: Mapping[str, Any], max_points: int = MAX_POINTS) -> Curve:
    """The drawable points of one series (empty Curve for an empty or malformed one)."""
    rows = _raw_and_buckets(series) if is_series(series) else []
    rows.sort(key=lambda row: row[0])
    if len(rows) > max_points:
        # The first and last points stay raw: the initial loss and the final state are what
        # a reader compares, and the line then spans the whole run.
        rows = [rows[0], *_binned(rows[1:-1], max_points - 2), rows[-1]]
    return Curve([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows])


def _raw_and_buckets(series: Mapping[str, Any]) -> list[list[float]]:
    """[step, value, low, high, weight] rows: raw points, plus buckets outside their range."""
    raw: dict[float, float] = {}
    for step, value in [*series["head"], *series["recent"]]:
        if _finite(step, value):
            raw[float(step)] = float(value)
    head_end = max((float(s) for s, _ in series["head"]), default=-math.inf)
    recent_start = min((float(s) for s, _ in series["recent"]), default=math.inf)
    rows = [[step, value, value, value, 1.0] for step, value in raw.items()]
    for bucket in series["history"]:
        if len(bucket) != 6 or not _finite(*bucket):
            continue
        first, last, n, mean, low, high = (float(v) for v in bucket)
        middle = (first + last) / 2
        if n == 1 and first in raw:
            continue
        if n > 1 and (middle <= head_end or middle >= recent_start):
            continue  # the raw points of the head or the recent window show this stretch
        rows.append([middle, mean, low, high, n])
    return rows


def _binned(rows: list[list[float]], bins: int) -> list[list[float]]:
    """Rows merged into `bins` equal stretches of steps (weighted mean; min of lows, max of highs)."""
    first, last = rows[0][0], rows[-1][0]
    width = (last - first) / bins or 1.0
    merged: dict[int, list[float]] = {}
    for step, value, low, high, weight in rows:
        index = min(int((step - first) / width), bins - 1)
        into = merged.get(index)
        if into is None:
            merged[index] = [step * weight, value * weight, low, high, weight]
        else:
            into[0] += step * weight
            into[1] += value * weight
            into[2] = min(into[2], low)
            into[3] = max(into[3], high)
            into[4] += weight
    return [[s / w, v / w, low, high, w] for s, v, low, high, w in (merged[i] for i in sorted(merged))]


def grid(curves: Sequence[Curve], columns: int, span: tuple[float, float] | None = None
         ) -> tuple[list[tuple[float, float]], list[list[float | None]]]:
    """Curves resampled onto shared step columns for a heat map: each cell the mean of the
    points in its column, a gap carried from the previous column (the series is sampled;
    a blank between two samples would read as missing data); None before a curve starts
    and after it ends. `span`: the steps the columns cover (default: the curves' own)."""
    starts = [c.steps[0] for c in curves if c.steps]
    ends = [c.steps[-1] for c in curves if c.steps]
    if not starts:
        return [], []
    first, last = span if span is not None else (min(starts), max(ends))
    columns = max(1, columns)
    width = (last - first) / columns or 1.0
    edges = [(first + i * width, first + (i + 1) * width) for i in range(columns)]
    cells = []
    for c in curves:
        sums, counts = [0.0] * columns, [0] * columns
        for step, value in zip(c.steps, c.values):
            index = min(max(int((step - first) / width), 0), columns - 1)
            sums[index] += value
            counts[index] += 1
        row: list[float | None] = [sums[i] / counts[i] if counts[i] else None for i in range(columns)]
        previous = None
        end = max((i for i in range(columns) if counts[i]), default=-1)
        for i in range(end + 1):
            if row[i] is None:
                row[i] = previous
            previous = row[i]
        cells.append(row)
    return edges, cells


def _finite(*values: Any) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
