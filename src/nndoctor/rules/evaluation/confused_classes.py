from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.core.stats import wilson_interval
from nndoctor.rules.evaluation import _wording as w


@register
class ConfusedClasses(Rule):
    """The model systematically mistakes one class for another.

    What it detects:
        Off-diagonal cells of the confusion matrix: for each pair (true A, predicted B),
        the count, the share of A's rows sent to B, its 95% Wilson interval, and example
        sample ids. A pair fires (with three or more classes) when even the bottom of the
        share's interval is at least `share_min` and the pair takes clearly more of A's
        errors than an even spread over the other classes would (`concentration_vs_even`). It says when the confusion runs both ways (A↔B), which points at
        ambiguous classes or inconsistent labels rather than a missing feature.

    Why it matters:
        The confusion matrix tells you about the data as much as about the model (004):
        two classes swapped in both directions are often defined ambiguously or labelled
        inconsistently; one-way confusion usually means the model lacks the feature that
        separates them or has too few examples of A.

    Likely causes:
        - The two classes are hard to tell apart, even for people (ambiguous definitions, 000 §2.5).
        - Labels of these classes are inconsistent between annotators or batches.
        - Too few examples of the confused class, or the distinguishing input is lost in preprocessing (resizing, cropping).

    Fixes:
        - Look at the example ids: are the labels right? Relabel or merge classes that experts cannot separate.
        - Add examples that show the distinguishing detail; check preprocessing keeps it.
        - If both directions are confused, write sharper labelling guidelines and re-annotate these classes.

    Example:
        confused-classes: on val, 23.0% of class 'wolf' (69 of 300 rows, interval [18.6%,
        28.1%]) is predicted as 'husky', and 15.2% of 'husky' as 'wolf' (limit 10% of the
        class); examples: ids 12, 57, 311.
    """

    id = "confused-classes"
    title = "classes mistaken for each other"
    severity = "warning"
    area = "evaluation"
    requires = ("confusion",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # One in ten rows of a class going to the same wrong class is a pattern, not noise
        # (errors of a 90%-accurate K-class model spread over K-1 classes are ~10/(K-1)%).
        share_min: float = 0.10,
        # Fewer mistaken rows than this are anecdotes, whatever their share.
        count_min: int = 10,
        # The pair must also take 1.5x the share of the class's errors an even spread over
        # the other K-1 classes would give it (lower interval bound), or it is just noise.
        concentration_vs_even: float = 1.5,
    ) -> list[Finding]:
        findings = []
        collapsed = w.collapsed_splits(m)
        for entry in m["confusion"]:
            if entry["split"] in collapsed:
                continue  # predictions-degenerate says it better
            k = len(entry["classes"])
            if k < 3:
                continue  # two classes have one possible confusion: class-failure covers it
            pairs = []
            for pair in entry["pairs"]:
                errors = pair["true_errors"]
                if pair["count"] < count_min or not errors:
                    continue
                low, high = wilson_interval(pair["count"], pair["true_support"])
                concentration_low, _ = wilson_interval(pair["count"], errors)
                even = 1 / (k - 1)
                if low < share_min or concentration_low < concentration_vs_even * even:
                    continue
                reverse = pair["reverse_count"] / pair["reverse_support"] if pair["reverse_support"] else 0.0
                pairs.append({**pair, "share": round(pair["count"] / pair["true_support"], 6),
                              "share_low": round(float(low), 6), "share_high": round(float(high), 6),
                              "share_of_errors": round(pair["count"] / errors, 6), "even_share_of_errors": round(even, 6),
                              "reverse_share": round(reverse, 6), "both_ways": reverse >= share_min})
            if not pairs:
                continue
            parts = []
            for p in pairs[:3]:
                text = (f"{percent(p['share'], 1)} of class {p['true']!r} ({count(p['count'])} of {count(p['true_support'])} rows, interval "
                        f"[{percent(p['share_low'], 1)}, {percent(p['share_high'], 1)}]) is predicted as {p['predicted']!r} — "
                        f"{percent(p['share_of_errors'], 0)} of its errors, where an even spread would give "
                        f"{percent(p['even_share_of_errors'], 0)}")
                if p["both_ways"]:
                    text += f", and {percent(p['reverse_share'], 1)} of {p['predicted']!r} as {p['true']!r} (both ways)"
                parts.append(text + f"; examples: ids {w.ids(p['example_ids'])}")
            findings.append(self.finding(
                f"On {entry['split']}, {'; '.join(parts)} (limits: interval above {percent(share_min, 0)} of the class, "
                f"{num(concentration_vs_even)}x the even share of its errors, at least {count_min} rows). Check those examples' labels, then what separates the classes.",
                where=[f"{p['true']}->{p['predicted']}" for p in pairs[:10]],
                evidence={"split": entry["split"], "pairs": pairs[:10], "share_min": share_min,
                          "concentration_vs_even": concentration_vs_even, "count_min": count_min}))
        return findings
