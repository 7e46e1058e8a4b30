from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class WeightDecayCoupledToAdam(Rule):
    """Weight decay given to Adam (or another adaptive optimizer) as an L2 term, which the adaptive step rescales per weight.

    What it detects:
        Your optimizer adds `weight_decay·w` to the gradient (Adam, NAdam, RAdam, Adamax,
        Adagrad, RMSprop without decoupled decay) instead of shrinking the weights
        directly (AdamW). Two copies are trained 10 steps on the same batches, with your
        decay and without; the shrink of the weight matrices caused by the decay is
        compared with what decoupled decay of the same value does (steps·lr·wd). This
        fires when the measured shrink is off by more than a factor (3×) in either
        direction.

    Why it matters:
        Adam divides the L2 term by the running gradient scale, so weights with large
        gradients are barely regularised and weights with small gradients are decayed far
        harder than the value says (Loshchilov & Hutter 2019). The decay you tuned is not
        the decay you get, and Adam with L2 generalises worse than AdamW (003 §4.3: Adam
        needs its regularisation retuned [LH19]).

    Likely causes:
        - `torch.optim.Adam(params, weight_decay=...)` used where AdamW was meant.
        - A recipe written for SGD (where L2 and weight decay coincide) moved to Adam.

    Fixes:
        - Use decoupled decay: `torch.optim.AdamW(model.parameters(), lr=..., weight_decay=...)` (or `Adam(..., decoupled_weight_decay=True)`).
        - Retune the value after switching: AdamW's decay acts as lr·wd per step, typical values 1e-4 … 1e-1.

    Example:
        weight-decay-coupled-to-adam: with Adam(weight_decay=0.01) the decay shrank the
        weight matrices 360× as much as decoupled decay of the same value would over 10
        steps (expected ≈ 1×, threshold 3×): the adaptive step rescales the L2 term per weight.
    """

    id = "weight-decay-coupled-to-adam"
    title = "weight decay coupled to an adaptive optimizer"
    severity = "warning"
    area = "tuning"
    requires = ("weight_decay",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        factor_max: float = 3.0,  # decoupled decay measures 1.00×; SGD with momentum matches its expected factor within 1%
    ) -> list[Finding]:
        result = m["weight_decay"]
        effective = result.get("effective_decay")
        if result["decoupled"] or not effective or effective.get("ratio") is None:
            return []
        ratio = effective["ratio"]
        if 1 / factor_max <= ratio <= factor_max:
            return []
        how = f"{num(ratio)}× as much as" if ratio > 0 else "not at all, unlike"
        return [self.finding(
            f"With {result['optimizer']}(weight_decay={num(effective['value'])}) the decay shrank the weight matrices "
            f"{how} decoupled decay of the same value would over {effective['steps']} steps (expected ≈ 1×, "
            f"threshold {num(factor_max)}×): the adaptive step rescales the L2 term per weight.",
            evidence={"ratio": ratio, "factor_max": factor_max, "weight_decay": effective["value"],
                      "lr": effective["lr"], "steps": effective["steps"], "optimizer": result["optimizer"]},
        )]
