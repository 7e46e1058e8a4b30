"""The learning-rate range test's curve, judged without any framework: the exponential
schedule, smoothing, the divergence stop, the valley and the suggestion it gives, the
003 §4.5.4 grid and the interpolated minimum of a sweep on it.

The range test raises the learning rate exponentially, one training batch per step, and
records the loss (Smith 2017; fast.ai's LR finder). Its curve falls while the rate is
useful and shoots up once it is too high; the suggestion sits in the falling part, below
the minimum. The curve is noisy (each point is one batch), which is why the anchors'
finders are unstable; here it is smoothed without lag (a centred window, not an EMA) and
repeated over batch orders, and the suggestion is only a starting point for a short real
sweep that decides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# 003 §4.5.4: test initial learning rates 10^{-5.0, -4.5, …, 0.0}: a 10^0.5 step.
GRID_STEP_DECADES = 0.5
GRID_LOW_EXPONENT, GRID_HIGH_EXPONENT = -5.0, 0.0
# The sweep may leave 003's grid by two decades either way for models that need it.
GRID_LIMITS = (-7.0, 1.0)
# Centred moving average over this many range-test steps: one batch per point is noisy,
# and 1/10 of a 100-step test (~0.14 decades of lr at 7 decades) keeps the valley's shape.
SMOOTHING_WINDOW_SHARE = 0.1
# Stop once the smoothed loss is this many times its best and above where it started:
# fast.ai stops at 4× the best; requiring "above the start" too keeps a near-zero best
# (a regression fitting well) from stopping on noise.
DIVERGENCE_FACTOR = 4.0
# A valley is usable when the smoothed loss falls at least this share of its starting
# value below the start: less is within batch-to-batch noise of a flat curve.
MIN_DROP_SHARE = 0.05
# The suggestion: one decade below the minimum of the smoothed curve (fast.ai's
# "minimum / 10"): at the minimum itself the loss is about to blow up.
SUGGESTION_DECADES_BELOW_MINIMUM = 1.0


def exponential_schedule(lr_start: float, lr_end: float, steps: int) -> list[float]:
    """`steps` learning rates from lr_start to lr_end, evenly spaced in log."""
    if steps < 2:
        return [lr_start]
    ratio = (lr_end / lr_start) ** (1.0 / (steps - 1))
    return [lr_start * ratio**i for i in range(steps)]


def smooth(losses: list[float], window: int) -> list[float]:
    """Centred moving average (shrinking at the ends); non-finite values end the curve."""
    finite = []
    for value in losses:
        if not math.isfinite(value):
            break
        finite.append(value)
    if not finite:
        return []
    half = max(window, 1) // 2
    values = np.asarray(finite, dtype=float)
    cumulative = np.concatenate([[0.0], np.cumsum(values)])
    out = []
    for i in range(len(values)):
        lo, hi = max(0, i - half), min(len(values), i + half + 1)
        out.append(float((cumulative[hi] - cumulative[lo]) / (hi - lo)))
    return out


class DivergenceStop:
    """Online early stop of a range test: an EMA of the loss (the only causal smoother)
    against its best and its start."""

    def __init__(self, factor: float = DIVERGENCE_FACTOR, beta: float = 0.9) -> None:
        self.factor, self.beta = factor, beta
        self.average = 0.0
        self.count = 0
        self.best = math.inf
        self.start: float | None = None

    def should_stop(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        self.count += 1
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smoothed = self.average / (1 - self.beta**self.count)
        if self.start is None:
            self.start = smoothed
        self.best = min(self.best, smoothed)
        return self.count > 5 and smoothed > max(self.factor * self.best, self.start)


@dataclass
class CurveReading:
    """What one range-test curve says: the suggestion, or why there is none."""

    suggestion: float | None
    minimum_lr: float | None
    start_loss: float | None
    minimum_loss: float | None
    drop_share: float | None
    diverged: bool
    refusal: str | None = None


def read_curve(lrs: list[float], losses: list[float], *, min_drop_share: float = MIN_DROP_SHARE,
               window_share: float = SMOOTHING_WINDOW_SHARE) -> CurveReading:
    """The suggestion of one curve (losses[i] measured at lrs[i], possibly cut short)."""
    window = max(3, int(round(window_share * len(lrs))))
    smoothed = smooth(losses, window)
    diverged = len(smoothed) < len(losses) or bool(smoothed) and smoothed[-1] > smoothed[0]
    if len(smoothed) < 5:
        return CurveReading(None, None, None, None, None, True,
                            f"the loss was not finite after {len(smoothed)} steps (lr {lrs[min(len(smoothed), len(lrs) - 1)]:.2g})")
    # The start is the average of the first window, before any lr could have acted.
    start = float(np.mean(smoothed[: max(1, window // 2)]))
    index = int(np.argmin(smoothed))
    minimum = smoothed[index]
    drop = (start - minimum) / abs(start) if start != 0 else 0.0
    if drop < min_drop_share:
        return CurveReading(None, lrs[index], start, minimum, drop, diverged,
                            f"the smoothed loss never fell more than {drop:.1%} below its start {start:.4g} "
                            f"(a usable valley falls ≥ {min_drop_share:.0%})")
    if index < window:
        return CurveReading(None, lrs[index], start, minimum, drop, diverged,
                            f"the loss was lowest at the very start of the range (lr {lrs[index]:.2g}) and only rose after")
    suggestion = lrs[index] / 10**SUGGESTION_DECADES_BELOW_MINIMUM
    return CurveReading(max(suggestion, lrs[0]), lrs[index], start, minimum, drop, diverged)


def combine(suggestions: list[float]) -> tuple[float, float]:
    """Geometric median-like centre (median in log) and spread (largest / smallest)."""
    logs = np.log10(np.asarray(suggestions, dtype=float))
    return float(10 ** np.median(logs)), float(10 ** (logs.max() - logs.min()))


def grid_exponent(lr: float) -> float:
    """The exponent of the nearest point of the 10^0.5 grid, within the grid limits."""
    exponent = round(math.log10(lr) / GRID_STEP_DECADES) * GRID_STEP_DECADES
    return min(max(exponent, GRID_LIMITS[0]), GRID_LIMITS[1])


def interpolated_minimum(exponents: list[float], values: list[float]) -> float | None:
    """The vertex of the parabola through the lowest grid point and its two neighbours
    (log10 lr against loss) — with the lowest point in the middle it lies within half a
    step of it; None when the lowest point lacks a measured neighbour on either side."""
    order = np.argsort(exponents)
    xs = np.asarray(exponents, dtype=float)[order]
    ys = np.asarray(values, dtype=float)[order]
    best = int(np.argmin(ys))
    if best == 0 or best == len(xs) - 1 or not np.isfinite(ys[best - 1 : best + 2]).all():
        return None
    a, b, _ = np.polyfit(xs[best - 1 : best + 2] - xs[best], ys[best - 1 : best + 2], 2)
    if a <= 0:
        return float(xs[best])
    return float(xs[best] - b / (2 * a))


def vertex_standard_error(step: float, values: list[float], variances: list[float]) -> float:
    """The standard error (in exponent units) of the vertex of the parabola through three
    equally spaced points, `step` apart, whose means `values` have the given variances
    (each mean's variance: its scatter over batch orders / their number), by the delta
    method: x* = step·(y0 − y2) / (2·(y0 − 2·y1 + y2)) relative to the middle point.
    Infinite when the three do not curve upwards (no vertex to be sure of)."""
    y0, y1, y2 = values
    curvature = y0 - 2 * y1 + y2
    if not curvature > 0 or not all(map(math.isfinite, (*values, *variances))):
        return math.inf
    gradient = vertex_gradient(step, values)
    return float(math.sqrt(sum(g * g * v for g, v in zip(gradient, variances))))


def vertex_gradient(step: float, values: list[float]) -> list[float]:
    """∂x*/∂y_i of that vertex: how much each of the three means moves it."""
    y0, y1, y2 = values
    curvature, slope = y0 - 2 * y1 + y2, y0 - y2
    square = 2 * curvature * curvature
    return [step * (curvature - slope) / square, step * 2 * slope / square, step * (-curvature - slope) / square]


# A rate near the edge of stability sends a few of its batch orders far off: on the LSTM/SGD
# benchmark task at lr 1, 0 to 10 of 72 orders per seed ended 2–5× above the rate's median
# (some above the loss at the start) while the rest sat within ±0.03 of it. A plain mean then
# depends on how many of those a seed happened to draw, and the confirmed rate moved 1.5×
# between seeds (0.34 with 10 such orders, 0.51 with none in 36). A rate is scored by the mean
# of its orders with the far-off ones held at a fence, its median + FAR_OFF_SCALES robust
# standard deviations (1.4826 × the median absolute deviation): they still weigh as its worst
# orders, and how many there were is reported. Only a minority is a tail: when more than
# FAR_OFF_MAX_SHARE of the orders lie beyond the fence, that is how the rate trains and the
# plain mean stands; with fewer than FAR_OFF_MIN_ORDERS orders no fence is drawn.
FAR_OFF_SCALES = 5.0
FAR_OFF_MAX_SHARE = 0.25
FAR_OFF_MIN_ORDERS = 8


def fenced(values: list[float]) -> tuple[list[float], int]:
    """A rate's held-out scores with its rare far-off orders held at the fence (see
    FAR_OFF_SCALES), and how many were."""
    if len(values) < FAR_OFF_MIN_ORDERS:
        return list(values), 0
    median = float(np.median(values))
    scale = 1.4826 * float(np.median(np.abs(np.asarray(values) - median)))
    fence = median + FAR_OFF_SCALES * scale
    far = sum(v > fence for v in values)
    if scale == 0 or far == 0 or far > FAR_OFF_MAX_SHARE * len(values):
        return list(values), 0
    return [min(v, fence) for v in values], int(far)
