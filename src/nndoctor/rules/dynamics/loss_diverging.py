from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import (
    all_points, block_levels, is_complete, loss_levels, loss_rise, median, rounded, trimmed_mean,
)


def _first_rise(series: Mapping[str, Any], levels: Mapping[str, Any], level: float) -> int:
    """First step after the best point from which the loss stays around `level` or above
    (median of the next 5 kept points; the whole curve when it was kept, else the
    smoothed history, then the recent window)."""
    if is_complete(series):
        points = all_points(series)
    else:
        points = [(b[0], b[2]) for b in levels["smooth"]] + [tuple(p) for p in series["recent"]]
    points = [p for p in points if p[0] >= levels["best_step"]]
    for index, (step, _) in enumerate(points):
        if median([v for _, v in points[index:index + 5]]) >= level:
            return step
    return points[-1][0] if points else int(series["recent"][-1][0])


@register
class LossDiverging(Rule):
    """The training loss is climbing: it has given back much of its progress, or grown past its start.

    What it detects:
        Robust levels of the noisy per-step loss: at the start (first 20 steps), at its
        best (smoothed history) and now (last 100 steps), each a trimmed mean. It fires when the current loss is
        above the best by at least `rise_fraction` of the larger of the start level and
        the progress made (start − best) — e.g. a loss that fell 2.3 → 0.3 and is back at
        1.5, or one that went 1.0 → 1.6 without ever improving (000 §3.3: divergence).

    Why it matters:
        A rising training loss means the optimizer is making the model worse; it usually
        ends in NaN, and the best model of the run is behind you.

    Likely causes:
        - Learning rate too high (or a warm-up that ends at too high a peak).
        - Exploding gradients (see exploding-gradients) or numerical instability.
        - A bug that changes the data or targets during training.

    Fixes:
        - Lower the learning rate (try 3-10x lower) or add warm-up (003 §4.5.4).
        - Clip gradients: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`.
        - Use an adaptive optimizer such as `torch.optim.AdamW` if plain SGD is unstable (000 §3.3).

    Example:
        loss-diverging: the loss is back up to 1.51 (best 0.31, start 2.30): a rise of 1.2,
        over the limit of 1.15 (0.5 x 2.30).
    """

    id = "loss-diverging"
    title = "Training loss diverging"
    severity = "warning"
    area = "dynamics"
    requires = ("loss_series",)
    optional = ("initial_loss",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        rise_fraction: float = 0.5,  # losing half the progress made (or rising 50 % above the start) is not noise
        min_points: int = 50,  # losses needed: the first and last windows must not be the same steps
        window_points: int = 50,  # steps per level of the best window: a mean of 50 per-sample losses is stable
        blowup_factor: float = 10.0,  # a loss that jumps within the first steps and stays 10x above its first value
    ) -> list[Finding]:
        series = m["loss_series"]
        if int(series.get("count", 0)) < min_points:
            return []
        levels = loss_levels(series)
        # The best of a noisy curve, like `recent`, is a trimmed mean of a window of steps:
        # the smoothed history's minimum is a median, far below the mean of skewed
        # per-sample losses (most near 0, a few large), so against it a healthy batch-of-1
        # run looks like a rise. Blocks of `window_points` steps give both the same footing.
        windows = block_levels(series, window_points, level=trimmed_mean)
        levels["best"] = min(levels["start"], max(levels["best"], min(level for _, _, level in windows)))
        start, best, recent = levels["start"], levels["best"], levels["recent"]
        rise, limit, scale = loss_rise(levels, rise_fraction)
        if scale <= 0 or rise < limit:
            return self._blown_up(series, recent, blowup_factor, m.get("initial_loss"))
        first = _first_rise(series, levels, best + limit)
        return [self.finding(
            f"the loss is back up to {num(recent)} (best {num(best)}, start {num(start)}): a rise of "
            f"{num(rise)}, over the limit of {num(limit)} ({num(rise_fraction)} x {num(scale)}).",
            step=first,
            evidence={"start": rounded(start), "best": rounded(best), "best_step": levels["best_step"],
                      "recent": rounded(recent), "rise": rounded(rise), "limit": rounded(limit)},
        )]

    def _blown_up(self, series: Mapping[str, Any], recent: float, factor: float,
                  initial: Mapping[str, Any] | None) -> list[Finding]:
        """The loss exploded within the first steps (so the start window already holds the
        blow-up and nothing looks like a rise from there) and never came back: the recent
        level is still `factor` times the first loss. One first loss can be a lucky single
        sample, so the reference is the larger of it and the analytic expectation at
        initialisation (ln C for cross-entropy); without an expectation this is not judged."""
        head = series.get("head") or []
        expected = (initial or {}).get("expected")
        if not head or not isinstance(expected, (int, float)) or not expected > 0:
            return []
        step0, first = head[0][0], max(float(head[0][1]), float(expected))
        if not recent >= factor * first:
            return []
        peak_step, peak = max(((int(s), float(v)) for s, v in head), key=lambda point: point[1])
        return [self.finding(
            f"the loss jumped from {num(first)} at step {step0} to {num(peak)} by step {peak_step} and is still "
            f"{num(recent)} now, {times(recent / first, 2)} its first value (threshold {times(factor)}): training "
            "blew up in its first steps and never recovered.",
            step=peak_step,
            evidence={"first": rounded(first), "peak": rounded(peak), "peak_step": peak_step, "recent": rounded(recent),
                      "ratio_to_first": rounded(recent / first)},
        )]
