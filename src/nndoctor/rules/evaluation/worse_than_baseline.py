from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


def _text(c: Mapping[str, Any]) -> str:
    direction = "higher" if c["higher_is_better"] else "lower"
    return (f"{w.name(c['metric'])} {w.value(c['metric'], c['model'])} vs {w.value(c['metric'], c['baseline_value'])} "
            f"for {c['baseline']} (gain {w.difference(c['metric'], c['improvement'])}, 95% interval "
            f"{w.difference(c['metric'], c['low'])} to {w.difference(c['metric'], c['high'])}; {direction} is better)")


@register
class WorseThanBaseline(Rule):
    """The model does not beat a trivial predictor, or a linear model does as well.

    What it detects:
        The model against baselines scored on the same rows (000 §4.1): the majority
        class and chance balanced accuracy (1/K), the class prior's log loss, the mean and
        median of the training target for regression, and, when `features` are given, a
        logistic or ridge regression. Each gain has a 95% paired bootstrap interval. Error
        when the model beats none of the trivial baselines beyond its interval; warning
        when it does not beat the linear model beyond its interval.

    Why it matters:
        A number like "83% accuracy" means nothing without a reference: if 83% of the rows
        are one class, predicting that class always scores the same. A deep model that
        cannot beat a logistic regression on the same features adds cost and no skill, and
        usually signals a bug, a data problem or too little data (000 §4.1).

    Likely causes:
        - The model collapsed to the majority class or the mean (see predictions-degenerate).
        - Labels and inputs are out of step (a shuffle or merge broke the pairing), so there is no signal to learn.
        - Training stopped early, the learning rate is wrong, or the wrong checkpoint was evaluated.
        - The task carries little signal in these features; the linear model is all the data supports.

    Fixes:
        - Check the predictions' distribution and a few examples by hand; confirm labels match inputs.
        - Overfit a small batch first (`nndoctor preflight`) to prove the model can learn at all.
        - Start from the linear baseline and add capacity step by step, keeping it only while it helps (000 §4.1).
        - For imbalanced classes, judge balanced accuracy or macro-F1 and use class weights
          (`nn.CrossEntropyLoss(weight=...)`) rather than raw accuracy.

    Example:
        worse-than-baseline: val accuracy 81.2% vs 80.9% for the majority class (gain +0.3
        points, 95% interval -1.1 to +1.6 points); balanced accuracy 50.4% vs 50.0% by chance;
        the model shows no skill beyond always answering 'healthy'.
    """

    id = "worse-than-baseline"
    title = "no better than a trivial or linear baseline"
    severity = "error"
    area = "evaluation"
    requires = ("baselines",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Any real signal beats a trivial predictor; the interval already absorbs noise, so
        # the required gain beyond it is zero (raise to demand a minimum gain).
        trivial_margin: float = 0.0,
        # Same for the linear baseline: a deep model should beat it beyond its interval.
        linear_margin: float = 0.0,
    ) -> list[Finding]:
        findings = []
        for entry in m["baselines"]:
            trivial = [c for c in entry["comparisons"] if c["kind"] == "trivial"]
            if trivial and not any(c["low"] > trivial_margin for c in trivial):
                findings.append(self.finding(
                    f"On {entry['split']}, the model beats none of the trivial baselines beyond its 95% "
                    f"interval: {'; '.join(_text(c) for c in trivial)}. A model with real skill has a gain "
                    f"whose interval lies above {num(trivial_margin)}; look at its predictions before anything else.",
                    where=entry["split"], evidence={"split": entry["split"], "comparisons": trivial,
                                                     "required_gain": trivial_margin}))
            for c in entry["comparisons"]:
                if c["kind"] == "linear" and c["low"] <= linear_margin:
                    findings.append(self.finding(
                        f"On {entry['split']}, {c['baseline']} ({c['fitted_on']}) is as good as the model: "
                        f"{_text(c)}. The model is not better beyond the interval, so its extra capacity buys "
                        "nothing yet; find out why before tuning it.",
                        severity="warning", where=entry["split"],
                        evidence={"split": entry["split"], "comparison": c, "required_gain": linear_margin},
                        fixes=["Check that the deep model sees the same inputs (preprocessing, feature order).",
                               "Overfit a small batch, then scale up; keep each addition only if it beats the "
                               "linear model on validation (000 §4.1).",
                               "If the data are small or tabular, the linear (or gradient-boosted) model may "
                               "simply be the right model: report it."]))
        return findings
