from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import lag1_autocorrelation_detrended, median, recent_points, rounded


@register
class LossOscillating(Rule):
    """The training loss zig-zags up and down from step to step instead of descending.

    What it detects:
        On the last 256 per-step training losses, after removing the straight-line
        trend: a strongly negative lag-1 autocorrelation (each step undoing the last —
        up, down, up) with swings of at least `min_relative_amplitude` of the loss level.
        Ordinary minibatch noise is independent from step to step (autocorrelation ≈ 0),
        however large it is, so noisy but healthy SGD does not fire.

    Why it matters:
        A loss that bounces back and forth is the signature of steps too large for the
        curvature: the optimizer jumps across the valley instead of descending into it
        (000 §3.3; 003 §4.3, figure 4.5), and progress stalls.

    Likely causes:
        - Learning rate too high (SGD in particular; 000 §3.3).
        - Momentum too high for the learning rate.
        - Batches alternating between two different kinds of data (two tasks, two sources in turn) — then it is expected.

    Fixes:
        - Lower the learning rate 2-10x, or use a decaying schedule (`torch.optim.lr_scheduler.CosineAnnealingLR`).
        - Try an adaptive optimizer (`torch.optim.AdamW`), which is more robust to the step size (000 §3.3).
        - Shuffle the data (`DataLoader(..., shuffle=True)`) so consecutive batches are alike.

    Example:
        loss-oscillating: the last 256 losses zig-zag (lag-1 autocorrelation -0.82; threshold
        -0.4) with swings of 35% of the loss level.
    """

    id = "loss-oscillating"
    title = "Training loss oscillating"
    severity = "warning"
    area = "dynamics"
    requires = ("loss_series",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        autocorrelation_max: float = -0.4,  # independent noise gives 0 ± 0.13 over 64+ steps; a zig-zag gives near -1
        min_relative_amplitude: float = 0.05,  # swings under 5 % of the level are harmless even when regular
        min_points: int = 64,  # consecutive losses needed for a stable autocorrelation
    ) -> list[Finding]:
        points = recent_points(m["loss_series"])
        if len(points) < min_points:
            return []
        values = [v for _, v in points]
        autocorrelation = lag1_autocorrelation_detrended(values)
        if not autocorrelation <= autocorrelation_max:
            return []
        level = median([abs(v) for v in values])
        swing = median([abs(b - a) for a, b in zip(values, values[1:])])
        amplitude = swing / level if level > 0 else float("inf")
        if amplitude < min_relative_amplitude:
            return []
        return [self.finding(
            f"the last {len(values)} losses zig-zag (lag-1 autocorrelation {autocorrelation:.2f}; "
            f"threshold {num(autocorrelation_max)}) with swings of {percent(amplitude, 0)} of the loss level.",
            step=points[0][0],
            evidence={"lag1_autocorrelation": rounded(autocorrelation), "relative_swing": rounded(amplitude),
                      "loss_level": rounded(level), "steps": len(values)},
        )]
