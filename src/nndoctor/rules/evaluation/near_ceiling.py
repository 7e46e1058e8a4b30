from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


@register
class NearCeiling(Rule):
    """The model is already about as good as the labels allow: further tuning gains little.

    What it detects:
        The model's score against the agreement of two independent measurements of the
        same target: the correlation of a repeated experiment with the target (replicates;
        Spearman-Brown when the target is their mean) or the agreement of a second annotator
        (annotators). It fires (info) when the model comes within `margin_points` of that
        reference, without being above the hard ceiling (above-ceiling handles that).

    Why it matters:
        Biology is noisy: if two replicates correlate 0.85, a model will hardly do better
        (000 §4.1). Knowing the model is at that level tells you to stop tuning and to spend
        the effort on better labels or more replicates, and gives the paper its honest
        reference line.

    Likely causes:
        - The model has learned what the data can teach; the remaining error is label noise.
        - (Rarely) both model and replicates share a bias, which this check cannot see.

    Fixes:
        - Report the ceiling next to the model's score.
        - To go further, reduce label noise: average more replicates, adjudicate annotator disagreements.
        - Compare models by their gap to the ceiling, not by raw score.

    Example:
        near-ceiling: Pearson r 0.84 [0.82, 0.86] on val, as good as a repeated experiment
        (replicates correlate 0.85; perfect-model ceiling 0.92): the labels, not the model,
        now limit the score.
    """

    id = "near-ceiling"
    title = "model near the label ceiling"
    severity = "info"
    area = "evaluation"
    requires = ("ceiling",)

    def check(self, m: Mapping[str, Any], *,
              # Within 2 points of a repeat measurement is "as good as the data allow" for
              # any comparison a paper would make.
              margin_points: float = 2.0) -> list[Finding]:
        findings = []
        for entry in m["ceiling"]:
            reference, model = entry["reference"], entry["model"]
            if reference is None or model is None or model < reference - margin_points / 100:
                continue
            if entry["model_low"] > entry["ceiling_high"]:
                continue  # above the hard ceiling: above-ceiling reports it
            metric = entry["metric"]
            if entry["source"] == "replicates":
                basis = (f"a repeated experiment correlates {reference:.2f} with the target "
                         f"(replicates {entry['replicate_correlation']:.2f})")
            else:
                basis = f"a second annotator agrees {percent(reference, 1)} with these labels"
            findings.append(self.finding(
                f"{w.name(metric)} {w.value(metric, model)} {w.interval(metric, entry['model_low'], entry['model_high'])} "
                f"on {entry['split']} is within {num(margin_points)} points of what {basis}; a perfect model would "
                f"reach about {w.value(metric, entry['ceiling'])}. The labels, not the model, now limit the score: "
                "improve the labels rather than tune further.",
                where=entry["split"], evidence=dict(entry) | {"margin_points": margin_points}))
        return findings
