from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.evaluation import _wording as w


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), in the input order."""
    n = len(p_values)
    if n == 0:
        return p_values
    order = np.argsort(p_values)
    ranked = p_values[order] * n / np.arange(1, n + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty(n)
    q[order] = np.minimum(adjusted, 1.0)
    return q


@register
class WeakSlice(Rule):
    """The model does markedly worse on a slice of the data (a site, an age band, a scanner).

    What it detects:
        Every value of each metadata column given as `slices` (numeric columns in quantile
        bins) and every crossing of two columns, with at least the minimum slice size,
        compared with the other rows: a one-sided test of the slice's accuracy (or
        per-label accuracy, or absolute error) against the rest. Benjamini-Hochberg keeps
        the expected share of false discoveries among the reported slices at
        `false_discovery_rate` however many slices are tested, and a slice must also drop
        by at least `min_drop_points` (regression: raise the error by `min_error_increase`).
        A crossing is reported only when it is worse than its single-column slices.

    Why it matters:
        An average can hide a subgroup the model fails — one hospital's scanner, the
        oldest patients, one batch (000 §4.2 error analysis). Those are the cases that
        break a model in deployment and the first thing a reviewer asks about.

    Likely causes:
        - The slice is rare in the training data, or absent from it.
        - A shift in acquisition (another instrument, protocol or site) the model never saw.
        - Labels of that slice are noisier, or the slice is genuinely harder.

    Fixes:
        - Look at the slice's errors (filter the predictions by the slice) and compare its inputs with the rest.
        - Add training data from the slice, re-weight it, or augment toward it; normalise per site/batch.
        - Report per-slice results in the paper; if the slice matters, validate on it separately.

    Example:
        weak-slice: on val, site = C (212 rows) has accuracy 68.4% vs 89.1% elsewhere
        (-20.7 points, q = 0.0001; limits: drop ≥ 5 points, false-discovery rate 5%, 55 slices tested).
    """

    id = "weak-slice"
    title = "metric drops on a slice"
    severity = "warning"
    area = "evaluation"
    requires = ("slices",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # 5% of reported slices may be false discoveries (Benjamini-Hochberg level).
        false_discovery_rate: float = 0.05,
        # Smaller drops are real but rarely actionable; at large n they become significant.
        min_drop_points: float = 5.0,
        # Regression: the slice's mean absolute error must be this much (relative) above the rest.
        min_error_increase: float = 0.20,
    ) -> list[Finding]:
        findings = []
        for entry in m["slices"]:
            tested = entry["tested"]
            if not tested:
                continue
            q = benjamini_hochberg(np.array([row["p_value"] for row in tested]))
            regression = entry["metric"] == "mae"

            def large(row: Mapping[str, Any]) -> bool:
                if regression:
                    return row["metric_in_slice"] >= (1 + min_error_increase) * row["metric_elsewhere"]
                return 100 * row["drop"] >= min_drop_points

            found = [{**row, "q_value": float(q_value)} for row, q_value in zip(tested, q)
                     if q_value <= false_discovery_rate and large(row)]
            singles = {row["slice"]: row for row in found if len(row["columns"]) == 1}
            kept = []
            for row in found:
                if len(row["columns"]) == 2:
                    parents = [singles[p] for p in row["slice"].split(" & ") if p in singles]
                    if any(row["drop"] - parent["drop"] < min_drop_points / 100 for parent in parents):
                        continue  # explained by a weak single-column slice already reported
                kept.append(row)
            if not kept:
                continue
            kept.sort(key=lambda row: -row["drop"] * np.sqrt(row["n"]))
            metric = entry["metric"]
            parts = [f"{row['slice']} ({count(row['n'])} rows) has {w.name(metric)} {w.value(metric, row['metric_in_slice'])} vs "
                     f"{w.value(metric, row['metric_elsewhere'])} elsewhere (q = {num(row['q_value'], 2)})" for row in kept[:3]]
            limit = (f"error ≥ {percent(min_error_increase, 0)} above the rest" if regression
                     else f"drop ≥ {num(min_drop_points)} points")
            findings.append(self.finding(
                f"On {entry['split']}, {'; '.join(parts)}{' and more' if len(kept) > 3 else ''} (limits: {limit}, "
                f"false-discovery rate {percent(false_discovery_rate, 0)} over {count(len(tested))} slices tested). "
                "Look at these rows' errors and at how much training data the slice had.",
                where=[row["slice"] for row in kept[:10]],
                evidence={"split": entry["split"], "metric": metric, "overall": entry["overall"],
                          "slices": kept[:10], "n_weak": len(kept), "n_tested": len(tested),
                          "false_discovery_rate": false_discovery_rate, "min_drop_points": min_drop_points,
                          "min_slice_rows": entry["min_rows"]}))
        return findings
