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


def _growth_window(ratios: Mapping[str, Any], norms: Mapping[str, Any] | None, points_min: int,
                   ratio_high: float, growth: float) -> tuple[int, float, float] | None:
    """(first step, median, norm growth) of the earliest `points_min` consecutive sampled
    updates whose median ratio is at least `ratio_high`, for a weight whose norm has since
    grown `growth` x its initial size: large steps that inflated the weights, which a
    schedule lowering the lr (OneCycle, cosine) can hide from the recent window."""
    if not norms or not norms.get("head"):
        return None
    initial, latest = norms["head"][0][1], norms["recent"][-1][1]
    if initial <= 0 or latest < growth * initial:
        return None
    points = all_points(ratios)
    for start in range(len(points) - points_min + 1):
        window = points[start:start + points_min]
        level = median([v for _, v in window])
        if level >= ratio_high:
            return window[0][0], level, latest / initial
    return None


@register
class UpdateRatioHigh(Rule):
    """Each update changes the weights by a large fraction of their size.

    What it detects:
        Per weight matrix, ‖w_after − w_before‖ / ‖w_before‖ for one optimizer step,
        the median over the recent sampled steps, with the latest one above the threshold too. Healthy training moves weights by
        about 1e-3 of their size per step (Karpathy's rule of thumb) to about 1e-2
        (the "about 1 % per minibatch" of seed 001); this fires well above that band.
        Only weight matrices are judged: biases and normalisation gains often start at
        0 or 1, where any step is a big relative change, and Adam's first steps move
        every weight by about the learning rate, so a median over many steps is used.
        It also fires on a burst: a single update larger than the weight itself after
        which the weight's norm is 10x its initial size — the learning rate wrecked the
        initialisation in a few steps, and later updates only look small because the
        weights are now huge. And it fires when, in at least `grown_layers_share` of the
        weight layers (two or more), some `min_points` consecutive sampled updates had a
        median ratio above `ratio_high` and the weight's norm has since grown
        `burst_norm_growth` x: a learning rate that is too high for the whole model,
        hidden from the recent window when a schedule lowers it afterwards (OneCycle's
        peak, then its annealing). One layer growing alone is left out: a layer
        initialised very small grows legitimately.

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
        grown_layers_share: float = 0.5,  # an lr too high inflates most layers; a small-initialised layer grows alone
    ) -> list[Finding]:
        kinds = m.get("parameter_kinds") or {}
        norms = m.get("weight_norm_per_layer") or {}
        high = []
        bursts = []
        grown, judged = [], 0
        for name, series in m["update_ratio_per_layer"].items():
            if (kinds.get(name) or {}).get("kind", "weight") != "weight":
                continue
            judged += 1
            window = _growth_window(series, norms.get(name), min_points, ratio_high, burst_norm_growth)
            if window is not None:
                grown.append((window[2], name, *window))
            burst = _burst(series, norms.get(name), burst_ratio, burst_norm_growth)
            if burst is not None:
                bursts.append((burst[2], name, *burst))
            points = recent_points(series)
            if len(points) < min_points:
                continue
            level = median([v for _, v in points])
            # The state must hold now: a latest ratio back under the threshold is a layer
            # settling as its weights grow (a large-lr LM's decoder), not one still jumping.
            if level >= ratio_high and points[-1][1] >= ratio_high:
                first = next(s for s, v in points if v >= ratio_high)
                high.append((level, name, first, len(points)))
        if not high and bursts:
            return [self._burst_finding(sorted(bursts, reverse=True), burst_ratio, burst_norm_growth)]
        if not high and len(grown) >= max(2, grown_layers_share * judged):
            return [self._growth_finding(sorted(grown, reverse=True), judged, min_points, ratio_high, burst_norm_growth)]
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

    def _growth_finding(self, grown: list, judged: int, points: int, ratio_high: float, growth: float) -> Finding:
        _, name, step, level, factor = grown[0]
        return self.finding(
            f"updates changed '{name}' by {num(level, 2)} of its size (median of {points} consecutive sampled steps "
            f"from step {step}; threshold {num(ratio_high)}) and its norm has grown {times(factor)} since (threshold "
            f"{times(growth)}); {len(grown)} of {judged} weight layers did the same. Later updates look small only "
            "because the weights are now large (or the schedule lowered the lr): the peak learning rate is too high.",
            step=min(g[2] for g in grown),
            where=[g[1] for g in grown],
            evidence={"update_ratio_median": {g[1]: rounded(g[3]) for g in grown},
                      "weight_norm_growth": {g[1]: rounded(g[4]) for g in grown}, "sampled_steps": points},
        )
