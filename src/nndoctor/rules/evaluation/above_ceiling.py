from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


@register
class AboveCeiling(Rule):
    """The model scores higher than the noise in its own labels allows: suspicious.

    What it detects:
        The ceiling the labels impose, from experimental replicates (a model predicting the
        true signal perfectly correlates at most √reliability with a noisy target; with
        replicates correlating 0.85, about 0.92) or from annotator agreement (the accuracy a
        perfect model reaches against one annotator's, or the majority vote's, labels under
        symmetric noise). It fires when the bottom of the model's 95% interval lies above the
        top of the ceiling's interval.

    Why it matters:
        No model can agree with noisy labels better than the truth does. A model above the
        ceiling has learned something it should not know: leakage from the label (a feature
        computed from it, duplicated samples, the same replicate in input and target) or
        the annotators' own quirks (000 §4.1).

    Likely causes:
        - Leakage: a feature derived from the target, or the same samples or replicates in training and evaluation.
        - The replicates are not independent (technical re-reads of one sample, shared batch effects), so the ceiling is too low.
        - The model learned the particular annotator's habits, not the task.

    Fixes:
        - Run `nndoctor audit` (feature-leakage, split-overlap-exact, group-leakage) on the data.
        - Check that replicates are true biological/independent repeats, and which replicate the target is.
        - Evaluate against labels from a different annotator than the one used for training.

    Example:
        above-ceiling: Pearson r 0.97 [0.96, 0.98] on val, above the ceiling 0.92 [0.91,
        0.93] set by replicates that correlate 0.85; check for leakage.
    """

    id = "above-ceiling"
    title = "model above the label ceiling"
    severity = "warning"
    area = "evaluation"
    requires = ("ceiling",)

    def check(self, m: Mapping[str, Any], *,
              # Extra room above the ceiling's interval before calling it suspicious (metric units).
              margin: float = 0.0) -> list[Finding]:
        findings = []
        for entry in m["ceiling"]:
            if entry["model_low"] is None or entry["model_low"] <= entry["ceiling_high"] + margin:
                continue
            metric = entry["metric"]
            basis = (f"replicates that correlate {entry['replicate_correlation']:.2f}" if entry["source"] == "replicates"
                     else f"annotators who agree on {percent(entry['mean_pairwise_agreement'], 0)} of items")
            findings.append(self.finding(
                f"{w.name(metric)} {w.value(metric, entry['model'])} "
                f"{w.interval(metric, entry['model_low'], entry['model_high'])} on {entry['split']} is above the "
                f"ceiling {w.value(metric, entry['ceiling'])} {w.interval(metric, entry['ceiling_low'], entry['ceiling_high'])} "
                f"set by {basis}: a model cannot agree with noisy labels better than the truth does, so check for "
                "leakage first.",
                where=entry["split"], evidence=dict(entry) | {"margin": margin}))
        return findings
