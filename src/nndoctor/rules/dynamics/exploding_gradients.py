from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import (
    all_points, history, is_complete, loss_levels, median, rounded,
)


FLOAT32_MAX = 3.4028234663852886e38  # the monitor records an overflowed norm as this


def timeline(series: Mapping[str, Any]) -> list[tuple[int, float]]:
    """The series in step order: every point if kept, else head + bucket maxima + recent."""
    if is_complete(series):
        return all_points(series)
    head = [(int(s), float(v)) for s, v in series["head"]]
    recent = [(int(s), float(v)) for s, v in series["recent"]]
    middle = [(int(b[0]), float(b[5])) for b in series["history"]
              if head[-1][0] < int(b[0]) and int(b[1]) < recent[0][0]]
    return head + middle + recent


def first_spike(points: list[tuple[int, float]], factor: float, min_before: int) -> tuple[int, float, float] | None:
    """First point at least `factor` times the median of all points before it."""
    before: list[float] = []
    for index, (step, value) in enumerate(points):
        if index >= min_before:
            baseline = median(before)
            if baseline > 0 and value >= factor * baseline:
                return step, value, baseline
        bisect.insort(before, value)
    return None


@register
class ExplodingGradients(Rule):
    """The global gradient norm jumped far above its earlier level.

    What it detects:
        The L2 norm of all gradients together (000 §3.2), on sampled steps, rising to
        `growth_factor` times the median of the norms before it. The layer whose own
        gradient norm grew the most is named.

    Why it matters:
        A gradient step scales with the gradient: a 100x larger gradient is a 100x
        larger step, which throws the weights out of the region the loss was descending
        into; the loss jumps and often ends as NaN (000 §3.3).

    Likely causes:
        - Learning rate too high, or no warm-up at the start of training.
        - Deep network without normalisation or residual connections; initialisation too large.
        - Recurrent network over long sequences without gradient clipping.

    Fixes:
        - Clip gradients before `optimizer.step()`: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`.
        - Lower the learning rate, or warm it up (`torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=1000)`).
        - Use He (`nn.init.kaiming_normal_`) or Xavier (`nn.init.xavier_uniform_`) initialisation; add `nn.LayerNorm`/`nn.BatchNorm2d` or residual connections.

    Example:
        exploding-gradients: the gradient norm reached 3.1e+04 at step 140, 2.6e+03x the
        median of 12 before it (threshold 100x); it grew most in 'fc3.weight'.
    """

    id = "exploding-gradients"
    title = "Exploding gradients"
    severity = "warning"
    area = "dynamics"
    requires = ("grad_norm_global",)
    optional = ('grad_norm_per_layer', 'loss_series')

    def check(
        self,
        m: Mapping[str, Any],
        *,
        growth_factor: float = 100.0,  # two orders of magnitude: healthy spikes stay within ~10x (000 §3.2 "spikes")
        baseline_points: int = 5,  # sampled steps needed before a baseline is trusted
        recovered_factor: float = 10.0,  # a past spike in a run whose loss halved and whose norm is back is not reported
    ) -> list[Finding]:
        series = m["grad_norm_global"]
        spike = first_spike(timeline(series), growth_factor, baseline_points)
        if spike is None:
            return []
        step, value, baseline = spike
        last = series["recent"][-1][1] if series.get("recent") else value
        loss = m.get("loss_series")
        if loss and loss.get("count", 0) >= 20 and history(loss):
            levels = loss_levels(loss)
            improving = levels["start"] > 0 and levels["recent"] < 0.5 * levels["start"]
            if improving and last <= recovered_factor * baseline:
                return []
        layer, layer_growth = self._fastest_growing_layer(m.get("grad_norm_per_layer") or {}, step)
        shown = f"{num(value)}" if value < FLOAT32_MAX else f"{num(FLOAT32_MAX)} (float32 overflow)"
        message = (f"the gradient norm reached {shown} at step {step}, {times(value / baseline)} the "
                   f"median {num(baseline)} of the sampled steps before it (threshold {times(growth_factor)})"
                   + (f"; it grew most in '{layer}'." if layer else "."))
        return [self.finding(message, step=step, where=layer, evidence={
            "grad_norm": rounded(value), "baseline_median": rounded(baseline),
            "growth": rounded(value / baseline), "latest_grad_norm": rounded(float(last)),
            "layer_growth": rounded(layer_growth) if layer else None,
        })]

    @staticmethod
    def _fastest_growing_layer(per_layer: Mapping[str, Any], from_step: int) -> tuple[str | None, float]:
        best, best_growth = None, 0.0
        for name, series in per_layer.items():
            points = timeline(series)
            early = [v for s, v in points if s < from_step]
            late = [v for s, v in points if s >= from_step]
            if not early or not late or median(early) <= 0:
                continue
            growth = max(late) / median(early)
            if growth > best_growth:
                best, best_growth = name, growth
        return best, best_growth
