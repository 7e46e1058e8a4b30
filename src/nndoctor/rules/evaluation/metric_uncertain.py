from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.core.stats import rows_for_halfwidth, rows_for_scaled_halfwidth
from nndoctor.rules.evaluation import _wording as w


@register
class MetricUncertain(Rule):
    """A headline metric is known so loosely that ordinary model differences are inside its interval.

    What it detects:
        The 95% interval of every headline metric on a 0-1 scale (accuracy, balanced
        accuracy, F1, AUC, R², correlation): Wilson for proportions, a stratified
        bootstrap otherwise (a cluster bootstrap with `groups`). It reports the half-width
        in points and how many evaluation rows would bring it under the limit — the same
        calculation as the audit's eval-set-too-small, but at the accuracy actually
        measured.

    Why it matters:
        Models, seeds and hyper-parameters usually differ by 1-2 points. When the interval
        of the metric is ±5 points, two models ranked on this set are ranked by chance, and
        a paper table without intervals overstates what is known (004).

    Likely causes:
        - The validation/test split is small (a few hundred rows), or the headline metric
          depends on a rare class (macro-F1, AUC with few positives).
        - Rows are grouped (patients, sites) and the independent units are few.

    Fixes:
        - Report every metric with its interval (this report's table) and compare models on
          the same rows with a paired test (McNemar, paired bootstrap).
        - Grow the evaluation split toward the rows-needed figure, or use k-fold
          cross-validation (`sklearn.model_selection.StratifiedKFold`) and report the spread (004).
        - Do not claim differences smaller than the half-width.

    Example:
        metric-uncertain: on val (400 rows) macro-F1 is 71.3% [66.2%, 75.9%], ±4.8 points
        (limit ±2); ~2,300 rows would give ±2 points.
    """

    id = "metric-uncertain"
    title = "metric interval too wide"
    severity = "warning"
    area = "evaluation"
    requires = ("metrics",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # Ablations and model comparisons usually differ by 1-2 points; wider than ±2
        # points cannot rank them (info), as in eval-set-too-small.
        halfwidth_points_info: float = 2.0,
        # At ±5 points even a 10-point difference is barely resolved (warning).
        halfwidth_points_warning: float = 5.0,
    ) -> list[Finding]:
        findings = []
        for entry in m["metrics"]:
            wide = []
            for metric in entry["headline"]:
                if metric["name"] not in w.BOUNDED:
                    continue
                # rounded so a half-width of exactly the limit does not fire on float noise
                half = round(100 * max(metric["value"] - metric["low"], metric["high"] - metric["value"]), 6)
                if half <= halfwidth_points_info:
                    continue
                target = halfwidth_points_info / 100
                needed = (rows_for_halfwidth(metric["value"], target) if metric["proportion"] and metric["method"] == "Wilson"
                          else rows_for_scaled_halfwidth(metric["n"], half / 100, target))
                wide.append({**metric, "halfwidth_points": round(half, 2), "rows_needed": needed})
            if not wide:
                continue
            worst = max(wide, key=lambda x: x["halfwidth_points"])
            warn = worst["halfwidth_points"] > halfwidth_points_warning
            limit = halfwidth_points_warning if warn else halfwidth_points_info
            parts = [f"{w.name(x['name'])} {w.value(x['name'], x['value'])} {w.interval(x['name'], x['low'], x['high'])} "
                     f"±{x['halfwidth_points']:.1f} points" for x in sorted(wide, key=lambda x: -x["halfwidth_points"])]
            findings.append(self.finding(
                f"On {entry['split']} ({count(entry['n'])} rows) {'; '.join(parts[:4])} (95% intervals; limit "
                f"±{num(limit)} points): differences between models smaller than this are noise. "
                f"~{count(worst['rows_needed'])} rows would give ±{num(halfwidth_points_info)} points on "
                f"{w.name(worst['name'])}.",
                severity="warning" if warn else "info", where=entry["split"],
                evidence={"split": entry["split"], "n": entry["n"], "wide_metrics": wide,
                          "halfwidth_points_info": halfwidth_points_info,
                          "halfwidth_points_warning": halfwidth_points_warning},
            ))
        return findings
