"""eval-set-too-small; the interval maths lives in nndoctor.core.stats, shared with `nndoctor evaluate`."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.core.stats import Z_95, rows_for_halfwidth, wilson_halfwidth

__all__ = ["EvalSetTooSmall", "rows_for_halfwidth", "wilson_halfwidth"]


@register
class EvalSetTooSmall(Rule):
    """The validation/test split is too small to separate the models you will compare.

    What it detects:
        The 95% confidence interval of the headline metric at the size of each evaluation
        split: the Wilson interval of accuracy (at the assumed accuracy; 0.5, the widest
        case, unless `assumed_accuracy=` is given), of the recall of the smallest class, and
        for regression the relative interval of the MSE (Gaussian residuals: ±1.96·√(2/n)).
        It also says how many rows would bring the interval under the limit.

    Why it matters:
        A metric measured on few samples moves by chance more than the differences between
        the models, seeds or hyper-parameters being compared, so decisions made on it are
        distorted (004). Deep-learning data is diverse; a small evaluation set does not
        cover that variety, and a rare class with a few dozen rows has a recall that can
        swing by tens of points.

    Likely causes:
        - Most data went to training (a 95-4-1 split suits 1M rows, not 5,000; 003 §4.5.1).
        - The evaluation split was sampled before more data arrived and never grown.
        - A rare class was not stratified and has only a handful of evaluation rows.

    Fixes:
        - Move rows into the evaluation split until the interval is below the limit (the
          message gives the count); 80-15-5 suits ~10,000 rows (003 §4.5.1).
        - With little data, use k-fold cross-validation
          (`sklearn.model_selection.StratifiedKFold`) and report the mean and spread
          across folds (004).
        - Report confidence intervals with every metric (bootstrap the evaluation set) and
          compare models on the same rows with a paired test (McNemar).
        - Stratify the split so rare classes get enough evaluation rows.

    Example:
        eval-set-too-small: test has 300 rows; accuracy is only known to ±5.6 points (95%
        Wilson interval at accuracy 0.5), above the 5-point limit; ~2,400 rows would give
        ±2 points.
    """

    id = "eval-set-too-small"
    title = "evaluation split too small"
    severity = "warning"
    area = "data"
    requires = ("eval_sizes",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Ablations and model comparisons usually differ by 1-2 accuracy points; an
        # interval wider than ±2 points cannot rank them (info).
        accuracy_halfwidth_points_info: float = 2.0,
        # At ±5 points even a 10-point difference is barely resolved (warning).
        accuracy_halfwidth_points_warning: float = 5.0,
        # Smallest-class recall known only to ±10 points (fewer than ~93 rows) is a guess
        # (info: the accuracy can still be well measured).
        class_recall_halfwidth_points_max: float = 10.0,
        # Regression: MSE known only to ±10% (info) / ±25% (warning) of its value.
        mse_relative_halfwidth_info: float = 0.10,
        mse_relative_halfwidth_warning: float = 0.25,
    ) -> list[Finding]:
        findings = []
        for split in m["eval_sizes"]:
            n = int(split["n"])
            if split["task"] == "regression":
                halfwidth = Z_95 * math.sqrt(2.0 / n) if n else math.inf
                if halfwidth <= mse_relative_halfwidth_info:
                    continue
                warn = halfwidth > mse_relative_halfwidth_warning
                target = mse_relative_halfwidth_info
                needed = math.ceil(2 * (Z_95 / target) ** 2)
                findings.append(self.finding(
                    f"{split['split']} has {count(n)} rows; its MSE is only known to ±{percent(halfwidth, 0)} of "
                    f"its value (95% interval, Gaussian residuals), above the "
                    f"{percent(mse_relative_halfwidth_warning if warn else target, 0)} limit; ~{count(needed)} "
                    f"rows would give ±{percent(target, 0)}.",
                    severity="warning" if warn else "info", where=split["split"],
                    evidence={"split": split["split"], "n": n, "mse_relative_halfwidth": round(halfwidth, 4),
                              "rows_needed": needed, "target_relative_halfwidth": target},
                ))
                continue
            p = float(split["assumed_accuracy"])
            halfwidth = 100 * wilson_halfwidth(p, n)
            small_n = split.get("smallest_class_n")
            class_halfwidth = 100 * wilson_halfwidth(0.5, int(small_n)) if small_n is not None else 0.0
            class_small = class_halfwidth > class_recall_halfwidth_points_max
            if halfwidth <= accuracy_halfwidth_points_info and not class_small:
                continue
            warn = halfwidth > accuracy_halfwidth_points_warning
            limit = accuracy_halfwidth_points_warning if halfwidth > accuracy_halfwidth_points_warning \
                else accuracy_halfwidth_points_info
            needed = rows_for_halfwidth(p, accuracy_halfwidth_points_info / 100)
            basis = "assumed" if split.get("accuracy_given") else "worst-case"
            text = (f"{split['split']} has {count(n)} rows; accuracy is only known to ±{halfwidth:.1f} points "
                    f"(95% Wilson interval at {basis} accuracy {num(p, 2)})")
            if halfwidth > accuracy_halfwidth_points_info:
                text += (f", above the {num(limit)}-point limit; ~{count(needed)} rows would give "
                         f"±{num(accuracy_halfwidth_points_info)} points")
            if class_small:
                class_needed = rows_for_halfwidth(0.5, class_recall_halfwidth_points_max / 100)
                text += (f"; the smallest class {split['smallest_class']!r} has {small_n} rows, so its "
                         f"recall is known to ±{class_halfwidth:.0f} points (limit "
                         f"{num(class_recall_halfwidth_points_max)}; needs ~{class_needed} rows)")
            findings.append(self.finding(
                text + ".",
                severity="warning" if warn else "info", where=split["split"],
                evidence={
                    "split": split["split"], "n": n, "assumed_accuracy": p,
                    "accuracy_halfwidth_points": round(halfwidth, 3), "rows_needed": needed,
                    "target_halfwidth_points": accuracy_halfwidth_points_info,
                    "smallest_class": split.get("smallest_class"), "smallest_class_n": small_n,
                    "smallest_class_recall_halfwidth_points": round(class_halfwidth, 3),
                },
            ))
        return findings
