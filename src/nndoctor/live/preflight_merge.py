"""`nndoctor run --preflight`: the preflight report joins the run's report (any adapter)."""
from __future__ import annotations

from nndoctor.core.report import Report, SkippedCheck

SKIPPED_RULE = "preflight"


def merge_preflight(report: Report, preflight: Report | None, reason: str) -> None:
    """The preflight findings and checks join the run's report (findings once per rule and
    place); a preflight that did not run is listed first among the skipped checks, with
    `reason`, so that "no preflight finding" never hides "no preflight"."""
    if preflight is None:
        report.context["preflight"] = reason
        report.checks_skipped.insert(0, SkippedCheck(rule=SKIPPED_RULE, reason=reason))
        return
    present = {(f.rule, repr(f.where)) for f in report.findings}
    report.findings.extend(f for f in preflight.findings if (f.rule, repr(f.where)) not in present)
    for rule in preflight.checks_run:
        if rule not in report.checks_run:
            report.checks_run.append(rule)
    known = {skipped.rule for skipped in report.checks_skipped}
    report.checks_skipped.extend(s for s in preflight.checks_skipped if s.rule not in known)
    report.checks_skipped = [s for s in report.checks_skipped if s.rule not in report.checks_run]
    report.context["preflight"] = {"checks_run": preflight.checks_run, "findings": len(preflight.findings)}
    if "preflight_curves" in preflight.context:  # drawn in the HTML report
        report.context["preflight_curves"] = preflight.context["preflight_curves"]
