from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


@register
class ClassFailure(Rule):
    """Some classes are recognised far worse than the rest.

    What it detects:
        Per-class recall (share of a class's rows predicted as that class) and precision
        (share of predictions of a class that are right), each with its 95% Wilson
        interval. A class fails when even the top of its interval lies more than
        `gap_points` below the pooled value of all other classes — far below, and not by
        chance.

    Why it matters:
        A good average hides classes the model barely gets (000 §4.2 error analysis). A
        rare disease class at 30% recall inside a 92%-accurate model is the result that
        matters, and it is usually a data problem: too few examples, noisy labels, or a
        class that overlaps another.

    Likely causes:
        - Too few training examples of the class (class imbalance), or none of some sub-type.
        - Noisy or inconsistent labels for this class (annotators disagree, 004).
        - The class overlaps another one (see confused-classes), or its defining features are missing.

    Fixes:
        - Look at the class's misclassified samples (top-loss-samples) and check their labels by hand.
        - Collect or oversample more examples of the class; use class weights
          (`nn.CrossEntropyLoss(weight=...)`) or a balanced sampler (`WeightedRandomSampler`).
        - Merge or redefine classes that even experts cannot tell apart.

    Example:
        class-failure: on val, class 'benign' has recall 41.0% [35.2%, 47.1%] on 250 rows,
        while the other classes reach 91.3% (limit: 10 points below); most often predicted
        as 'normal'.
    """

    id = "class-failure"
    title = "classes far below the rest"
    severity = "warning"
    area = "evaluation"
    requires = ("per_class",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Ten points is a difference no one would call noise or "a harder class" in passing;
        # the interval guard below keeps small classes from firing on chance alone.
        gap_points: float = 10.0,
        # Below ~20 rows a class's recall interval is ±20 points wide: too few to judge.
        min_support: int = 20,
    ) -> list[Finding]:
        findings = []
        collapsed = w.collapsed_splits(m)
        for entry in m["per_class"]:
            if entry["split"] in collapsed:
                continue  # predictions-degenerate says it better
            rows = entry["rows"]
            failing = []
            for row in rows:
                for key, count_key in (("recall", "support"), ("precision", "predicted")):
                    if row[key] is None or row[count_key] < min_support:
                        continue
                    others_hits = sum(r[key] * r[count_key] for r in rows if r is not row and r[key] is not None)
                    others_total = sum(r[count_key] for r in rows if r is not row and r[key] is not None)
                    if not others_total:
                        continue
                    others = others_hits / others_total
                    if row[f"{key}_high"] < others - gap_points / 100:
                        failing.append({"class": row["class"], "measure": key, "value": row[key],
                                        "low": row[f"{key}_low"], "high": row[f"{key}_high"],
                                        "rows": row[count_key], "others": round(others, 6),
                                        "most_confused_with": row.get("most_confused_with")})
            if not failing:
                continue
            failing.sort(key=lambda f: f["value"] - f["others"])
            parts = []
            for f in failing[:3]:
                confused = (f"; most often predicted as {f['most_confused_with']!r}"
                            if f["measure"] == "recall" and f["most_confused_with"] is not None else "")
                parts.append(f"class {f['class']!r} has {f['measure']} {percent(f['value'], 1)} [{percent(f['low'], 1)}, {percent(f['high'], 1)}] "
                             f"on {count(f['rows'])} rows vs {percent(f['others'], 1)} for the other classes{confused}")
            findings.append(self.finding(
                f"On {entry['split']}, {'; '.join(parts)} (fires when the interval's top is more than "
                f"{num(gap_points)} points below the rest). Look at these classes' errors and labels first.",
                where=sorted({f["class"] for f in failing}, key=str),
                evidence={"split": entry["split"], "failing": failing, "gap_points": gap_points,
                          "min_support": min_support}))
        return findings
