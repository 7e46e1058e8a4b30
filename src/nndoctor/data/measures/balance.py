"""Class balance of the training labels and class proportions compared between splits.

Feeds the rules class-imbalance (`class_balance`) and stratification-mismatch
(`stratification`). Counting only: no sampling, cheap on millions of rows.
"""
from __future__ import annotations

from typing import Any

from nndoctor.core.rule import Measurements
from nndoctor.data.view import AuditData, AuditOptions

MEASUREMENTS = ("class_balance", "stratification")


def class_counts(labels: Any) -> dict[str, int]:
    """Rows per class (missing labels left out), keys as strings, most frequent first."""
    counts = labels.dropna().value_counts()
    return {str(label): int(count) for label, count in counts.items()}


def measure(data: AuditData, m: Measurements, options: AuditOptions) -> None:
    reason = _unavailable_reason(data)
    if reason:
        for name in MEASUREMENTS:
            m.mark_unavailable(name, reason)
        return
    train_counts = class_counts(data.train.labels)
    m["class_balance"] = {
        "split": "train", "label": data.label, "counts": train_counts, "n": sum(train_counts.values()),
    }
    others = [split for split in data.others if split.labels is not None]
    if not others:
        m.mark_unavailable(
            "stratification", "only a train split was given; pass val= or test= to compare class proportions"
        )
        return
    train = data.train
    comparisons = [compare_proportions(train_counts, class_counts(split.labels), split.name,
                                       design_effect=_design_effect(train, split)) for split in others]
    if len(others) == 2:  # val and test should agree with each other as well (004)
        val, test = others
        comparisons.append(compare_proportions(class_counts(val.labels), class_counts(test.labels), test.name,
                                               reference=val.name, design_effect=_design_effect(val, test)))
    m["stratification"] = comparisons


def _design_effect(first: Any, second: Any) -> float:
    """Rows per group over both splits when groups are given, else 1.

    Rows of one patient (photo, user) are not independent draws: with the label shared
    inside a group, the information is in the number of groups, not of rows. Dividing the
    chi-square statistic by the mean group size is exact for group-constant labels and
    conservative otherwise, so a grouped split is not flagged for its natural scatter.
    """
    if first.groups is None or second.groups is None:
        return 1.0
    n_groups = first.groups.nunique() + second.groups.nunique()
    return max(1.0, (len(first) + len(second)) / max(n_groups, 1))


def compare_proportions(reference_counts: dict[str, int], split_counts: dict[str, int], name: str,
                        reference: str = "train", design_effect: float = 1.0) -> dict[str, Any]:
    """Chi-square test of homogeneity (reference vs split) plus the largest class-share gap;
    the reference is train unless given. The statistic is divided by `design_effect`."""
    import numpy as np
    from scipy.stats import chi2 as chi2_distribution
    from scipy.stats import chi2_contingency

    classes = sorted(set(reference_counts) | set(split_counts))
    table = np.array([[reference_counts.get(c, 0) for c in classes], [split_counts.get(c, 0) for c in classes]],
                     dtype=float)
    n_reference, n_split = table.sum(axis=1)
    result: dict[str, Any] = {"reference": reference, "split": name, "n": int(n_split), "chi2": 0.0, "dof": 0,
                              "p_value": 1.0, "max_abs_diff": 0.0, "worst_class": None, "reference_share": None,
                              "split_share": None, "missing_classes": []}
    if n_reference == 0 or n_split == 0 or len(classes) < 2:
        return result
    reference_share = table[0] / n_reference
    split_share = table[1] / n_split
    gaps = np.abs(reference_share - split_share)
    worst = int(np.argmax(gaps))
    chi2, _, dof, _ = chi2_contingency(table, correction=False)
    chi2 = chi2 / design_effect
    p_value = chi2_distribution.sf(chi2, dof)
    result.update({
        "design_effect": round(float(design_effect), 3),
        "chi2": round(float(chi2), 4), "dof": int(dof), "p_value": float(p_value),
        "max_abs_diff": round(float(gaps[worst]), 6), "worst_class": classes[worst],
        "reference_share": round(float(reference_share[worst]), 6),
        "split_share": round(float(split_share[worst]), 6),
        "missing_classes": [
            {"class": c, "expected_rows": round(float(reference_share[i] * n_split), 2)}
            for i, c in enumerate(classes) if table[0, i] > 0 and table[1, i] == 0
        ],
    })
    return result


def _unavailable_reason(data: AuditData) -> str | None:
    if data.label is None or data.train.labels is None:
        return "no label column was given (label=...)"
    if data.task != "classification":
        return f"the task is {data.task}; class balance applies to classification labels only"
    return None
