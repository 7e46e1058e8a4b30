from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import median, recent_points, rounded


@register
class SaturatedActivation(Rule):
    """Most inputs of a hidden tanh/sigmoid sit in its flat region, where it passes no gradient.

    What it detects:
        For every hidden tanh and sigmoid (module or function), the share of its inputs
        in the flat region — where the slope is below 2 % of its peak: |x| > 2.65 for
        tanh, |x| > 5.3 for sigmoid — and the mean |pre-activation| (seed 001's
        saturation indicator), median over recent sampled steps. Output activations
        (a sigmoid feeding BCELoss) are excluded: a confident classifier saturates them
        on purpose.

    Why it matters:
        A saturated unit outputs ±1 (or 0/1) whatever its input and its gradient is ~0:
        the layers before it stop learning (000 §3.2 vanishing gradients).

    Likely causes:
        - Initialisation too large for the activation (std 1 weights with hundreds of inputs).
        - Inputs not normalised (raw pixel values 0-255, unscaled features).
        - Learning rate too high, pushing pre-activations outward.

    Fixes:
        - Initialise with `nn.init.xavier_uniform_` (Glorot) for tanh/sigmoid layers (003 §4.2).
        - Normalise inputs (zero mean, unit variance) and add `nn.LayerNorm`/`nn.BatchNorm1d` before the activation.
        - Prefer `nn.Tanh` over `nn.Sigmoid` in hidden layers, or ReLU-family activations (003 §4.5.3 #15).

    Example:
        saturated-activation: 83% of the inputs of 'tanh after fc2' are in the flat region
        (mean |input| 6.1; threshold 50%).
    """

    id = "saturated-activation"
    title = "Saturated tanh/sigmoid"
    severity = "warning"
    area = "dynamics"
    requires = ("activation_stats",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        saturated_share_min: float = 0.5,  # Xavier-initialised tanh has ~1 % in the flat region; half means the layer is mostly stuck (001)
        min_points: int = 3,  # sampled steps before judging
    ) -> list[Finding]:
        findings = []
        for key, stats in m["activation_stats"].items():
            if stats.get("kind") not in ("tanh", "sigmoid") or not stats.get("hidden"):
                continue
            points = recent_points(stats.get("saturated_share") or {})
            if len(points) < min_points:
                continue
            share = median([v for _, v in points])
            if share < saturated_share_min:
                continue
            mean_abs = median([v for _, v in recent_points(stats.get("mean_abs_input") or {})] or [float("nan")])
            first = next(s for s, v in points if v >= saturated_share_min)
            findings.append(self.finding(
                f"{percent(share, 0)} of the inputs of '{key}' are in its flat region (mean |input| "
                f"{num(mean_abs, 2)}; threshold {percent(saturated_share_min, 0)}).",
                step=first,
                where=stats.get("after") or key,
                evidence={"saturated_share": rounded(share), "mean_abs_input": rounded(mean_abs),
                          "kind": stats["kind"], "sampled_steps": len(points)},
            ))
        return findings
