from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import loss_levels, loss_rise, median, recent_values, rounded


@register
class LossNotDecreasing(Rule):
    """The training loss has not gone down since the start of the run.

    What it detects:
        The level of the last 100 training losses compared with that of the first 20
        (trimmed means): it fires when the drop is below `min_relative_drop` of the starting
        level after at least `min_points` steps, and the recent losses show no
        downward trend either (so a slow warm-up that is just starting to bite does not
        fire). A loss that fell and then plateaued is healthy and does not fire.

    Why it matters:
        A model that cannot lower its training loss learns nothing; every other metric is
        meaningless until it does (003 §4.5.2: a model must at least overfit a tiny set).

    Likely causes:
        - Learning rate far too low, or an optimizer that never steps (see update-ratio-low, params-not-updated).
        - Gradients not reaching the parameters: `.detach()`, `torch.no_grad()`, frozen layers, dead or saturated activations.
        - Targets not matching the inputs (shuffled labels), or the loss applied to the wrong tensor.
        - The run resumed from an already converged checkpoint (then nothing is wrong: stop training).

    Fixes:
        - Check that the model can overfit a batch of 2 samples (003 §4.5.3 #7; `nndoctor preflight`).
        - Try learning rates 10x apart (1e-4, 1e-3, 1e-2) and keep the largest that does not diverge (003 §4.5.4).
        - Check that `optimizer.zero_grad()`, `loss.backward()` and `optimizer.step()` all run every step and that the optimizer got `model.parameters()`.

    Example:
        loss-not-decreasing: after 400 steps the loss is 2.302 against 2.303 at the start, a
        change of -0.04% where a drop of at least 1% was expected.
    """

    id = "loss-not-decreasing"
    title = "Training loss not decreasing"
    severity = "warning"
    area = "dynamics"
    requires = ("loss_series",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_relative_drop: float = 0.01,  # 1 % of the start level: below that the loss is flat within noise
        min_points: int = 200,  # losses before judging: warm-up schedules keep early losses flat
        trend_relative: float = 0.005,  # recent halves differing by 0.5 % of the level count as still moving
    ) -> list[Finding]:
        series = m["loss_series"]
        count = int(series.get("count", 0))
        if count < min_points:
            return []
        levels = loss_levels(series)
        # A fast learner is done within 20 steps: compare with the first 5 losses too.
        start, recent = max(levels["initial"], levels["start"]), levels["recent"]
        if abs(start) < 1e-8:
            return []  # a loss already at zero has nothing left to lose
        drop = (start - recent) / abs(start)
        if drop >= min_relative_drop:
            return []
        rise, limit, _ = loss_rise(levels, 0.5)
        if rise >= limit:
            return []  # rising by loss-diverging's default limit: that rule reports it
        window = recent_values(series, 100)
        half = len(window) // 2
        noise = 1.4826 * median([abs(v - recent) for v in window])  # robust standard deviation
        moving = median(window[:half]) - median(window[half:])
        if moving > max(trend_relative * abs(start), 2.5 * noise * (2 / max(half, 1)) ** 0.5):
            return []  # still moving down beyond noise (late warm-up)
        return [self.finding(
            f"after {count} steps the loss is {num(recent, 4)} against {num(start, 4)} at the start, a change "
            f"of {-drop:+.2%} where a drop of at least {percent(min_relative_drop, 0)} was expected.",
            step=series["recent"][0][0],
            evidence={"start": rounded(start), "recent": rounded(recent), "relative_drop": rounded(drop),
                      "steps": count},
        )]
