from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, median, recent_points, rounded


def _burst(ratios: Mapping[str, Any], norms: Mapping[str, Any] | None, burst_ratio: float,
           growth: float) -> tuple[int, float, float] | None:
    """(step, ratio, norm growth) of a kept update at least `burst_ratio` x the weight's size
    after which the weight's norm grew `growth` x: a step that wrecked the initial scale.
    Layers starting at zero (a zero-initialised adapter) are never judged this way."""
    if not norms or not norms.get("head"):
        return None
    first_step, initial = norms["head"][0]
    latest = norms["recent"][-1][1]
    if initial <= 0 or latest < growth * initial:
        return None
    sizes = dict(all_points(norms))
    for step, ratio in all_points(ratios):
        if ratio >= burst_ratio and sizes.get(step, 0.0) >= 0.5 * initial:
            return step, ratio, latest / initial
    return None


@register
class UpdateRatioHigh(Rule):
    """Each update changes the weights by a large fraction of their size.

    What it detects:
        Per weight matrix, ‖w_after − w_before‖ / ‖w_before‖ for one optimizer step,
        the median over the recent sampled steps. Healthy training moves weights by
        about 1e-3 of their size per step (Karpathy's rule of thumb) to about 1e-2
        (the "about 1 % per minibatch" of seed 001); this fires well above that band.
        Only weight matrices are judged: biases and normalisation gains often start at
        0 or 1, where any step is a big relative change, and Adam's first steps move
        every weight by about the learning rate, so a median over many steps is used.
        It also fires on a burst: a single update larger than the weight itself after
        which the weight's norm is 10x its initial size — the learning rate wrecked the
        initialisation in a few steps, and later updates only look small because the
        weights are now huge.

    Why it matters:
        Weights that change by a tenth of their size every step are not converging:
        the optimizer jumps across the minimum instead of descending into it (003 §4.3),
        the loss becomes noisy or diverges, and ReLU units get knocked dead.

    Likely causes:
        - Learning rate too high for this optimizer (Adam with lr ≥ 1e-2 on wide layers, SGD with lr ≥ 1).
        - No warm-up: large steps while the Adam statistics are still unreliable.
        - Weights initialised very small (or zero), so normal steps are large relative to them.

    Fixes:
        - Lower the learning rate about 10x, or add warm-up (`torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=1000)`).
        - Clip gradients (`torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`).
        - Initialise with `nn.init.kaiming_normal_` / `nn.init.xavier_uniform_` instead of tiny constants.

    Example:
        update-ratio-high: each update changes 'fc1.weight' by 0.31 of its size (median of
        32 sampled steps; threshold 0.1).
    """

    id = "update-ratio-high"
    title = "Updates too large for the weights"
    severity = "warning"
    area = "dynamics"
    requires = ("update_ratio_per_layer",)
    optional = ('parameter_kinds', 'weight_norm_per_layer')

    def check(
        self,
        m: Mapping[str, Any],
        *,
        ratio_high: float = 0.1,  # 10x above the top of the healthy 1e-3..1e-2 band (001: ~1 % per update; Karpathy: ~1e-3)
        min_points: int = 5,  # sampled updates in the recent window: one Adam start-up step must not decide
        burst_ratio: float = 1.0,  # one update as large as the weight itself is never healthy...
        burst_norm_growth: float = 10.0,  # ...when it leaves the weight 10x its initial size (healthy: 1-3x)
    ) -> list[Finding]:
        kinds = m.get("parameter_kinds") or {}
        norms = m.get("weight_norm_per_layer") or {}
        high = []
        bursts = []
        for name, series in m["update_ratio_per_layer"].items():
            if (kinds.get(name) or {}).get("kind", "weight") != "weight":
                continue
            burst = _burst(series, norms.get(name), burst_ratio, burst_norm_growth)
            if burst is not None:
                bursts.append((burst[2], name, *burst))
            points = recent_points(series)
            if len(points) < min_points:
                continue
            level = median([v for _, v in points])
            if level >= ratio_high:
                first = next(s for s, v in points if v >= ratio_high)
                high.append((level, name, first, len(points)))
        if not high and bursts:
            return [self._burst_finding(sorted(bursts, reverse=True), burst_ratio, burst_norm_growth)]
        if not high:
            return []
        high.sort(reverse=True)
        level, name, first, count = high[0]
        return [self.finding(
            f"each update changes '{name}' by {num(level, 2)} of its size (median of {count} sampled "
            f"steps; threshold {num(ratio_high)})" + (f", and {len(high) - 1} more layer(s) too." if len(high) > 1 else "."),
            step=min(h[2] for h in high),
            where=[h[1] for h in high],
            evidence={"update_ratio_median": {h[1]: rounded(h[0]) for h in high}, "sampled_steps": count},
        )]

    def _burst_finding(self, bursts: list, burst_ratio: float, growth: float) -> Finding:
        _, name, step, ratio, grown = bursts[0]
        return self.finding(
            f"an update at step {step} changed '{name}' by {times(ratio)} its size (threshold "
            f"{times(burst_ratio)}) and its norm has grown {times(grown)} since (threshold {times(growth)})"
            + (f"; {len(bursts) - 1} more layer(s) too." if len(bursts) > 1 else "."),
            step=min(b[2] for b in bursts),
            where=[b[1] for b in bursts],
            evidence={"burst_update_ratio": {b[1]: rounded(b[3]) for b in bursts},
                      "weight_norm_growth": {b[1]: rounded(b[4]) for b in bursts}},
        )
