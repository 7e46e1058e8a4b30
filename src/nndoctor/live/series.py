"""Bounded time series: constant memory however long training runs.

A 1M-step run must not keep 1M loss values. `BoundedSeries` keeps three views of a
stream of (step, value) points, each capped:

* `head`: the first `head_size` points, raw — the start of training (initial loss,
  warm-up) is what most judgements compare against;
* `recent`: the last `recent_size` points, raw — the current state, with its
  step-to-step noise intact (oscillation is judged from it);
* `history`: the whole run as at most `max_buckets` buckets of consecutive points
  (first step, last step, count, mean, min, max). When the buckets are full,
  neighbours merge pairwise, so every bucket covers twice as many points as before and
  the whole run stays visible at a coarser resolution.

Only finite values belong here; callers count non-finite values separately.
`to_dict()` gives the plain-JSON form the rules read (see `nndoctor.rules.dynamics._series`).
"""
from __future__ import annotations

from collections import deque
from typing import Any


class BoundedSeries:
    __slots__ = (
        "head_size", "max_buckets", "count", "head", "recent", "history",
        "_points_per_bucket", "_open",
    )

    def __init__(self, head_size: int = 64, recent_size: int = 256, max_buckets: int = 128) -> None:
        if max_buckets < 2 or max_buckets % 2:
            raise ValueError("max_buckets must be an even number >= 2")
        self.head_size = head_size
        self.max_buckets = max_buckets
        self.count = 0
        self.head: list[tuple[int, float]] = []
        self.recent: deque[tuple[int, float]] = deque(maxlen=recent_size)
        self.history: list[list[float]] = []  # closed buckets: [first, last, count, mean, min, max]
        self._points_per_bucket = 1
        self._open: list[float] | None = None

    def add(self, step: int, value: float) -> None:
        self.count += 1
        if len(self.head) < self.head_size:
            self.head.append((step, value))
        self.recent.append((step, value))
        bucket = self._open
        if bucket is None:
            self._open = [step, step, 1, value, value, value]
        else:
            n = bucket[2] + 1
            bucket[1] = step
            bucket[2] = n
            bucket[3] += (value - bucket[3]) / n
            if value < bucket[4]:
                bucket[4] = value
            if value > bucket[5]:
                bucket[5] = value
        if self._open[2] >= self._points_per_bucket:
            self.history.append(self._open)
            self._open = None
            if len(self.history) >= self.max_buckets:
                self._merge_pairs()

    def _merge_pairs(self) -> None:
        merged = []
        for left, right in zip(self.history[0::2], self.history[1::2]):
            n = left[2] + right[2]
            mean = (left[3] * left[2] + right[3] * right[2]) / n
            merged.append([left[0], right[1], n, mean, min(left[4], right[4]), max(left[5], right[5])])
        self.history = merged
        self._points_per_bucket *= 2

    def last(self) -> tuple[int, float] | None:
        return self.recent[-1] if self.recent else None

    def to_dict(self) -> dict[str, Any]:
        buckets = [list(b) for b in self.history]
        if self._open is not None:
            buckets.append(list(self._open))
        return {
            "count": self.count,
            "head": [[int(s), float(v)] for s, v in self.head],
            "recent": [[int(s), float(v)] for s, v in self.recent],
            "history": [[int(b[0]), int(b[1]), int(b[2]), float(b[3]), float(b[4]), float(b[5])] for b in buckets],
        }


def small_series() -> BoundedSeries:
    """The size used per layer/parameter: many of them exist, each needs less history."""
    return BoundedSeries(head_size=8, recent_size=32, max_buckets=32)
