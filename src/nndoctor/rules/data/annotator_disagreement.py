from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class AnnotatorDisagreement(Rule):
    """Annotators disagree so often that the labels limit what any model can reach.

    What it detects:
        Chance-corrected agreement between the annotator columns (`annotators=`):
        Krippendorff's alpha (nominal, tolerates missing ratings), Fleiss' kappa and
        Cohen's kappa per pair. It also reports the label ceiling this implies: how often
        one annotator matches another (mean pairwise agreement) and matches the majority
        vote of the others, i.e. the accuracy a perfect human-like model could show.

    Why it matters:
        Ambiguous tasks produce labels that differ from person to person (004, 000 §2.5).
        A model evaluated against such labels cannot exceed the annotators' own agreement:
        if two annotators agree on 80% of the items, 80% accuracy may already be the
        ceiling, and chasing 95% is wasted effort. Noisy evaluation labels also make the
        metric itself unreliable.

    Likely causes:
        - The task or the class definitions are ambiguous (continuous biology cut into classes).
        - Annotation guidelines are missing or were read differently; no calibration round.
        - Fatigue or low effort on a long annotation job (004); one annotator far off the others.

    Fixes:
        - Compare your model's accuracy with the reported ceiling before tuning further
          (004, 000 §4.1).
        - Write sharper guidelines with examples of the confusing cases, run a calibration
          round, then re-annotate the items with disagreement.
        - Aggregate several annotators (majority vote, or Dawid-Skene /
          `cleanlab.multiannotator.get_label_quality_multiannotator`) instead of trusting
          one.
        - Train on soft labels (vote fractions) or with label smoothing
          (`nn.CrossEntropyLoss(label_smoothing=0.1)`) when the ambiguity is real.

    Example:
        annotator-disagreement: Krippendorff's alpha 0.52 across 3 annotators on 1,200
        items (limit 0.667); annotators agree pairwise on 71% of items, so accuracy
        above ~71% against one annotator's labels is not meaningful.
    """

    id = "annotator-disagreement"
    title = "annotators disagree"
    severity = "warning"
    area = "data"
    requires = ("annotator_agreement",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Krippendorff (2004): alpha >= 0.800 is reliable, 0.667 is the lowest value that
        # allows tentative conclusions; below it the labels are not trustworthy.
        alpha_warning_below: float = 0.667,
        # Between 0.667 and 0.800 the labels are usable but the ceiling is worth knowing.
        alpha_info_below: float = 0.800,
    ) -> list[Finding]:
        result = m["annotator_agreement"]
        alpha = result.get("krippendorff_alpha")
        if alpha is None or alpha >= alpha_info_below:
            return []
        severity = "warning" if alpha < alpha_warning_below else "info"
        limit = alpha_warning_below if severity == "warning" else alpha_info_below
        ceiling = result.get("mean_pairwise_agreement")
        ceiling_text = "" if ceiling is None else (
            f"; annotators agree pairwise on {percent(ceiling, 0)} of items, so accuracy above ~{percent(ceiling, 0)} "
            "against one annotator's labels is not meaningful")
        message = (
            f"Krippendorff's alpha {alpha:.2f} across {result['n_annotators']} annotators on "
            f"{count(result['n_items'])} items (limit {num(limit)}){ceiling_text}."
        )
        evidence = {
            key: result.get(key)
            for key in (
                "krippendorff_alpha", "fleiss_kappa", "cohen_kappa", "mean_pairwise_cohen_kappa",
                "mean_pairwise_agreement", "majority_vote_agreement", "label_agreement_with_annotators",
                "least_agreeing_annotator", "n_annotators", "n_items", "n_items_fully_rated",
                "pairwise",
            )
        }
        evidence["alpha_limit"] = limit
        return [
            self.finding(
                message,
                severity=severity,
                where=result.get("annotators"),
                evidence=evidence,
            )
        ]
