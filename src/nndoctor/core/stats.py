"""Confidence intervals of proportions and the sample sizes they imply.

One implementation shared by the data audit (eval-set-too-small, which knows only the
split sizes) and `nndoctor evaluate` (which knows the measured metrics). Pure arithmetic:
every function also accepts numpy arrays element-wise, which keeps simulations vectorised.
"""
from __future__ import annotations

import math
from typing import Any

Z_95 = 1.959964  # two-sided 95% normal quantile


def wilson_interval(successes: Any, n: Any, z: float = Z_95) -> tuple[Any, Any]:
    """Wilson score interval (low, high) of a proportion `successes / n`.

    Unlike the textbook p ± z·√(p(1-p)/n), it keeps its coverage near the nominal level
    for small n and proportions near 0 or 1 (Brown, Cai & DasGupta 2001).
    """
    n_safe = n if not isinstance(n, (int, float)) else max(n, 1)
    p = successes / n_safe
    denominator = 1 + z * z / n_safe
    centre = (p + z * z / (2 * n_safe)) / denominator
    half = z / denominator * (p * (1 - p) / n_safe + z * z / (4 * n_safe * n_safe)) ** 0.5
    return centre - half, centre + half


def wilson_halfwidth(p: float, n: int, z: float = Z_95) -> float:
    """Half-width of the Wilson score interval of a proportion p measured on n samples."""
    if n <= 0:
        return 1.0
    return z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))


def rows_for_halfwidth(p: float, target: float) -> int:
    """Smallest n whose Wilson half-width at proportion p is at most `target`."""
    low, high = 1, 1
    while wilson_halfwidth(p, high) > target:
        high *= 2
    while low < high:
        middle = (low + high) // 2
        low, high = (middle + 1, high) if wilson_halfwidth(p, middle) > target else (low, middle)
    return low


def rows_for_scaled_halfwidth(n: int, halfwidth: float, target: float) -> int:
    """Rows needed to shrink an interval measured on n rows to `target`, assuming the
    half-width falls as 1/√n (true of every smooth metric: F1, AUC, R², MAE)."""
    if halfwidth <= target or n <= 0:
        return n
    return int(math.ceil(n * (halfwidth / target) ** 2))


def fisher_z_interval(r: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """95% interval of a Pearson correlation r on n pairs (Fisher's z transform)."""
    if n <= 3 or not math.isfinite(r):
        return -1.0, 1.0
    r = min(max(r, -0.999999), 0.999999)
    centre, spread = math.atanh(r), z / math.sqrt(n - 3)
    return math.tanh(centre - spread), math.tanh(centre + spread)


def newcombe_difference(successes_a: int, n_a: int, successes_b: int, n_b: int,
                        z: float = Z_95) -> tuple[float, float, float]:
    """Difference of two independent proportions a - b with Newcombe's hybrid score
    interval (method 10 of Newcombe 1998): (difference, low, high)."""
    p_a, p_b = successes_a / max(n_a, 1), successes_b / max(n_b, 1)
    low_a, high_a = wilson_interval(successes_a, n_a, z)
    low_b, high_b = wilson_interval(successes_b, n_b, z)
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = difference + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return difference, low, high
