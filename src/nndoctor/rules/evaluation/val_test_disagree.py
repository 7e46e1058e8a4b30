from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


@register
class ValTestDisagree(Rule):
    """Validation and test give different verdicts on the same model, beyond chance.

    What it detects:
        The difference between the two splits' headline metrics with its 95% interval
        (Newcombe's interval for accuracy on independent splits, McNemar's paired test when
        both hold the same samples, independent bootstrap draws otherwise). It fires when the
        interval excludes zero and the difference is at least `min_difference_points`.

    Why it matters:
        Validation and test drawn from the same population should agree within their
        intervals. When they do not, one of them does not represent the data the model will
        meet: the split leaked, was sampled differently, or the model was tuned on validation
        until it overfit it (004).

    Likely causes:
        - Model selection or early stopping on validation made it optimistic (many runs, one winner).
        - The splits come from different sources, times or sites (a shift between them).
        - Leakage into one split (duplicates, shared patients) inflating it (see the data audit).

    Fixes:
        - Run `nndoctor audit` on the splits (split-shift, group-leakage, split-overlap-exact).
        - Choose hyper-parameters by cross-validation and touch the test split once.
        - If the populations differ on purpose (another site), report both and treat test as external validation.

    Example:
        val-test-disagree: accuracy is 91.2% on val and 84.0% on test (-7.2 points, 95%
        interval -9.6 to -4.8 points; limit 2 points).
    """

    id = "val-test-disagree"
    title = "validation and test disagree"
    severity = "warning"
    area = "evaluation"
    requires = ("split_comparison",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Below 2 points the gap, even if significant on a huge set, does not change a verdict.
        min_difference_points: float = 2.0,
        # Unbounded metrics (log loss, MAE, RMSE): the relative gap that matters.
        min_relative_difference: float = 0.10,
    ) -> list[Finding]:
        rows = m["split_comparison"]
        disagree = []
        for row in rows:
            if row["low"] <= 0 <= row["high"]:
                continue
            if row["metric"] in w.BOUNDED:
                large = 100 * abs(row["difference"]) >= min_difference_points
            else:
                scale = max(abs(row["first_value"]), abs(row["second_value"]), 1e-12)
                large = abs(row["difference"]) / scale >= min_relative_difference
            if large:
                disagree.append(row)
        if not disagree:
            return []
        primary = disagree[0]
        others = ", ".join(w.name(row["metric"]) for row in disagree[1:])
        metric = primary["metric"]
        return [self.finding(
            f"{w.name(metric)} is {w.value(metric, primary['first_value'])} on {primary['first']} and "
            f"{w.value(metric, primary['second_value'])} on {primary['second']} "
            f"({w.difference(metric, -primary['difference'])}, 95% interval {w.difference(metric, -primary['high'])} to "
            f"{w.difference(metric, -primary['low'])}, {primary['method']}; limit {num(min_difference_points)} points)"
            f"{'; also ' + others if others else ''}. The two splits do not describe the same model's "
            "performance: find out which one is unrepresentative before reporting either.",
            where=[primary["first"], primary["second"]],
            evidence={"disagreeing": disagree, "compared": [row["metric"] for row in rows],
                      "min_difference_points": min_difference_points,
                      "min_relative_difference": min_relative_difference})]
