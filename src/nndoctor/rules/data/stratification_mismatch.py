from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class StratificationMismatch(Rule):
    """The class proportions of the validation/test split differ from the training split.

    What it detects:
        A chi-square test of homogeneity between the class counts of train and each other
        split (and of val and test, which should agree too) that is both significant
        (p-value below a limit, so chance is ruled out at this sample size) and large (some
        class share differs by several percentage points, or a class is missing from the
        split although it should have rows). With `group=`, the statistic is divided by the
        mean group size: rows of one patient or photo are not independent draws.

    Why it matters:
        Validation and test data should have the class mix the model will meet (003
        §4.5.1). With a different mix, accuracy and loss on the split move for reasons
        unrelated to the model, thresholds tuned on validation are off, and a class that
        is missing from the test split is never evaluated at all.

    Likely causes:
        - The split was made without `stratify=` on sorted or grouped data (e.g. the last
          rows, all of one class, went to the test split).
        - The splits were collected at different times or places with different prevalence.
        - Rows were filtered or deduplicated after splitting, in one split only.

    Fixes:
        - Split with stratification: `train_test_split(X, y, test_size=0.2, stratify=y,
          random_state=0)` or `StratifiedKFold` / `StratifiedGroupKFold` when rows are
          grouped (000 §2.3).
        - If the different mix is real (deployment prevalence differs), keep it but report
          per-class metrics and recalibrate the decision threshold on data with the
          deployment mix.
        - Apply filtering and deduplication before splitting, to all data at once.

    Example:
        stratification-mismatch: class 'tumour' is 5.0% of train but 18.0% of test
        (13.0 points apart, limit 2; chi-square p = 2e-41 (limit 0.001)).
    """

    id = "stratification-mismatch"
    title = "class proportions differ between splits"
    severity = "warning"
    area = "data"
    requires = ("stratification",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # At p < 0.001 a random (unstratified) split of the same data fires 1 time in 1000.
        p_value_max: float = 1e-3,
        # A 2-point difference in a class share already moves accuracy and calibration
        # more than the gains people compare; smaller gaps are noise for most purposes.
        share_diff_points_min: float = 2.0,
        # A class absent from a split is only suspicious if it should have had some rows.
        missing_class_expected_rows_min: float = 5.0,
    ) -> list[Finding]:
        findings = []
        for comparison in m["stratification"]:
            p_value = float(comparison["p_value"])
            diff_points = 100.0 * float(comparison["max_abs_diff"])
            missing = [
                entry for entry in comparison.get("missing_classes", [])
                if float(entry["expected_rows"]) >= missing_class_expected_rows_min
            ]
            if p_value >= p_value_max or (diff_points < share_diff_points_min and not missing):
                continue
            split = comparison["split"]
            reference = comparison.get("reference", "train")
            worst = comparison["worst_class"]
            if missing:
                names = ", ".join(repr(entry["class"]) for entry in missing[:5])
                lead = (
                    f"class(es) {names} have no rows in {split} although "
                    f"~{missing[0]['expected_rows']:.0f} were expected from the {reference} share"
                )
            else:
                lead = (
                    f"class {worst!r} is {percent(comparison['reference_share'])} of {reference} but "
                    f"{percent(comparison['split_share'])} of {split} ({diff_points:.1f} points apart, "
                    f"limit {num(share_diff_points_min)})"
                )
            findings.append(
                self.finding(
                    f"{lead}; chi-square p {_p_text(p_value)} (limit {num(p_value_max)}).",
                    where=split,
                    evidence={
                        "reference": reference,
                        "split": split,
                        "split_rows": comparison["n"],
                        "chi2": comparison["chi2"],
                        "dof": comparison["dof"],
                        "p_value": p_value,
                        "p_value_max": p_value_max,
                        "worst_class": worst,
                        "reference_share": comparison["reference_share"],
                        "split_share": comparison["split_share"],
                        "max_abs_diff_points": round(diff_points, 3),
                        "share_diff_points_min": share_diff_points_min,
                        "missing_classes": missing,
                        "design_effect": comparison.get("design_effect", 1.0),
                    },
                )
            )
        return findings


def _p_text(p_value: float) -> str:
    """'= 2e-41', or '< 1e-300' when the p-value underflows to zero."""
    return f"= {num(p_value, 2)}" if p_value > 0 else "< 1e-300"
