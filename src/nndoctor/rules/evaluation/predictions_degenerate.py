from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class PredictionsDegenerate(Rule):
    """The model predicts one class (or one value) for nearly every sample.

    What it detects:
        Classification: the most predicted class takes at least `top_share_min` of the
        predictions while it is at least `excess_min` rarer among the true labels (a
        97%-majority dataset predicted 98% majority is not degenerate). Multi-label: one
        label set predicted for nearly all rows. Regression: the predictions' spread is
        below `spread_ratio_max` of the target's (a near-constant output).

    Why it matters:
        A collapsed model still reports a respectable accuracy on imbalanced data, so the
        collapse goes unnoticed; but it has learned nothing about the inputs (000 §4.1).

    Likely causes:
        - Class imbalance with an unweighted loss: predicting the majority is a cheap minimum.
        - Training diverged or died (dead ReLUs, a too-high learning rate), leaving a constant output.
        - A bug in evaluation: argmax over the wrong axis, the untrained model, or inputs all zero.

    Fixes:
        - Check the evaluation code: argmax axis (`logits.argmax(dim=1)`), the loaded checkpoint, the inputs.
        - Re-weight classes (`nn.CrossEntropyLoss(weight=...)`) or resample (`WeightedRandomSampler`).
        - Run `nndoctor run` on the training script to see when the outputs collapsed.

    Example:
        predictions-degenerate: on val 99.1% of predictions are 'normal', but only 71.0% of
        the labels are (limits: ≥ 95% of predictions, ≥ 10 points above the labels' share).
    """

    id = "predictions-degenerate"
    title = "one class (or value) predicted for everything"
    severity = "error"
    area = "evaluation"
    requires = ("prediction_distribution",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # 95% of predictions in one class leaves almost no room for a second answer.
        top_share_min: float = 0.95,
        # ... when the labels hold that class at least 10 points less often.
        excess_min: float = 0.10,
        # Regression: predictions spread under 5% of the target's spread are a constant.
        spread_ratio_max: float = 0.05,
    ) -> list[Finding]:
        findings = []
        for entry in m["prediction_distribution"]:
            if entry["task"] == "regression":
                if entry["target_std"] <= 0:
                    continue
                ratio = entry["prediction_std"] / entry["target_std"]
                if ratio >= spread_ratio_max:
                    continue
                findings.append(self.finding(
                    f"On {entry['split']} the predictions vary by a standard deviation of "
                    f"{num(entry['prediction_std'])}, {percent(ratio, 1)} of the target's {num(entry['target_std'])} "
                    f"(limit {percent(spread_ratio_max, 0)}): the model outputs a near-constant.",
                    where=entry["split"], evidence=dict(entry) | {"spread_ratio": ratio,
                                                                  "spread_ratio_max": spread_ratio_max}))
                continue
            share, true_share = entry["top_predicted_share"], entry["true_share_of_top"]
            if share < top_share_min or share - true_share < excess_min:
                continue
            findings.append(self.finding(
                f"On {entry['split']} {percent(share, 1)} of predictions are {entry['top_predicted']!r}, but only "
                f"{percent(true_share, 1)} of the labels are (limits: ≥ {percent(top_share_min, 0)} of predictions, ≥ "
                f"{num(excess_min * 100)} points above the labels' share): the model answers the same thing "
                "whatever the input.",
                where=entry["split"], evidence=dict(entry) | {"top_share_min": top_share_min,
                                                              "excess_min": excess_min}))
        return findings
