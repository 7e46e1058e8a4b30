from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count as count_text, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class ConflictingLabels(Rule):
    """Identical inputs carry different labels within a split.

    What it detects:
        Groups of rows with exactly the same feature values (id-like columns ignored) but
        more than one class label. Only classification is checked: for regression, repeated
        measurements of one input legitimately differ. Conflicts are only reported when
        identical inputs are rare by chance in this feature space.

    Why it matters:
        No model can be right on both rows: the loss has a floor it can never go below, and
        accuracy on those rows is capped at chance. Usually one label is a mistake; otherwise
        a feature that tells the rows apart is missing (000 §2.2, 004).

    Likely causes:
        - Labelling errors: the same item labelled twice by different people or rounds.
        - A merge that attached labels to the wrong rows.
        - A missing feature that distinguishes the cases (the inputs are not enough).

    Fixes:
        - Look at the listed rows and fix or drop the wrong label; keep one row per input.
        - Resolve repeated annotations by majority vote before training.
        - If both labels are right, add the feature that separates them.

    Example:
        conflicting-labels: 40 of 10,000 train rows (0.4%) share their inputs with a row of
        another label; the threshold is 2 rows.
    """

    id = "conflicting-labels"
    title = "identical inputs, different labels"
    severity = "warning"
    area = "data"
    requires = ("conflicting_labels",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        conflicting_rows_min: int = 2,  # one pair of identical inputs with two labels is already an error
        chance_ratio_min: float = 10.0,  # identical inputs must be >10x rarer by chance than observed
    ) -> list[Finding]:
        findings = []
        for split, info in m["conflicting_labels"].items():
            count, n = info["conflicting_rows"], info["n_rows"]
            if count < conflicting_rows_min or count <= chance_ratio_min * info["expected_by_chance"]:
                continue
            rows = [row for group in info["groups"] for row in group["rows"]][:20]
            findings.append(self.finding(
                f"{count_text(count)} of {count_text(n)} {split} rows ({percent(count / n)}) share identical inputs with a row of another "
                f"label; the threshold is {conflicting_rows_min} rows.",
                where=rows,
                evidence={"split": split, "conflicting_rows": count, "n_rows": n,
                          "expected_by_chance": info["expected_by_chance"], "example_groups": info["groups"][:5]},
            ))
        return findings
