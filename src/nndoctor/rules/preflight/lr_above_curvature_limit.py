from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class LrAboveCurvatureLimit(Rule):
    """The SGD learning rate is above the stability limit set by the loss's sharpest curvature at the start.

    What it detects:
        Preflight measures the top eigenvalue λ_max of the loss Hessian on your batch at
        the initial weights (power iteration with Hessian-vector products, dropout off)
        and compares your SGD learning rate with the limit of gradient descent along that
        direction: lr < (2 + 2·momentum)/λ_max (2/λ_max without momentum). Up to about
        twice the limit the loss first spikes and training "catapults" to a flatter
        region (Lewkowycz et al. 2020) — reported as info; beyond it, as a warning.

    Why it matters:
        Along a direction of curvature λ each SGD step multiplies the error by |1 − lr·λ|;
        above the limit that factor exceeds 1 and the loss grows step after step
        (Cohen et al. 2021, "edge of stability"). This is the mechanism behind "the
        learning rate is too high" (003 §4.5.4: a high LR makes the model diverge).

    Likely causes:
        - A learning rate tuned for another model, loss scale or batch size (sharpness grows with the loss's scale, e.g. sum instead of mean reduction).
        - Inputs or targets not normalised, which scales the curvature with their variance.
        - An initialisation with too large weights.

    Fixes:
        - Lower the learning rate below the limit (the finding gives it), or measure one: `nndoctor tune lr train.py`.
        - Add a warm-up so the sharpness can drop before the full rate is reached (003 §4.5.4: η0/20 → η0 over ~10% of an epoch).
        - Normalise inputs and regression targets; use reduction="mean".

    Example:
        lr-above-curvature-limit: the loss's top Hessian eigenvalue at the start is 412 on
        the batch, so SGD(lr=0.1, momentum=0.9) is stable below lr 0.0092 ((2 + 2·0.9)/412);
        your lr is 11× that limit (warning above 2×).
    """

    id = "lr-above-curvature-limit"
    title = "learning rate above the curvature limit"
    severity = "warning"
    area = "preflight"
    requires = ("sharpness",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        catapult_ratio_max: float = 2.0,  # Lewkowycz et al. 2020: up to ~2× the limit the loss spikes once and recovers
    ) -> list[Finding]:
        record = m["sharpness"]
        top, lr, momentum = record["top_eigenvalue"], record["lr"], record["momentum"]
        if top <= 0 or lr <= 0:
            return []
        limit = (2 + 2 * momentum) / top
        ratio = lr / limit
        if ratio <= 1:
            return []
        settings = f"SGD(lr={num(lr)}" + (f", momentum={num(momentum)})" if momentum else ")")
        formula = f"(2 + 2·{num(momentum)})/{num(top)}" if momentum else f"2/{num(top)}"
        severity = "warning" if ratio > catapult_ratio_max else "info"
        outcome = ("expect the loss to grow until training diverges" if severity == "warning" else
                   "expect an early spike in the loss before it settles in a flatter region")
        return [self.finding(
            f"The loss's top Hessian eigenvalue at the start is {num(top)} on the batch, so {settings} is stable "
            f"below lr {num(limit, 2)} ({formula}); your lr is {num(ratio, 2)}× that limit — {outcome} "
            f"(warning above {num(catapult_ratio_max)}×).",
            severity=severity,
            evidence={"top_eigenvalue": top, "lr": lr, "momentum": momentum, "stable_lr_limit": limit,
                      "ratio": ratio, "catapult_ratio_max": catapult_ratio_max,
                      "batch_size": record.get("batch_size"), "power_iterations": record.get("iterations")},
        )]
