"""Run rules over measurements, each rule isolated: a crashing rule becomes an
`internal-error` finding naming it, never an exception in the user's program."""
from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from nndoctor.core.errors import UsageError
from nndoctor.core.finding import Finding
from nndoctor.core.report import Report, SkippedCheck
from nndoctor.core.rule import Measurements, Rule

INTERNAL_ERROR = "internal-error"


def resolve_thresholds(
    rules: Iterable[type[Rule]], overrides: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Check per-rule threshold overrides against the rules' keyword arguments.

    A misspelt rule id or threshold name is a UsageError that lists the valid names, so a
    typo in pyproject.toml cannot silently leave a default in force.
    """
    by_id = {rule.id: rule for rule in rules}
    resolved: dict[str, dict[str, Any]] = {}
    for rule_id, values in (overrides or {}).items():
        if rule_id not in by_id:
            continue  # thresholds for rules not run by this command are fine
        known = by_id[rule_id].thresholds()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UsageError(
                f"rule {rule_id!r} has no threshold {', '.join(unknown)}; "
                f"its thresholds are: {', '.join(sorted(known)) or '(none)'}"
            )
        resolved[rule_id] = dict(values)
    return resolved


def internal_error_finding(source: str, error: BaseException, step: int | None = None) -> Finding:
    """The finding that reports a fault inside nndoctor itself (never the user's code)."""
    frames = traceback.extract_tb(error.__traceback__)
    last = frames[-1] if frames else None
    location = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}" if last else "unknown"
    return Finding(
        rule=INTERNAL_ERROR,
        severity="warning",
        message=(
            f"nndoctor's {source} failed with {type(error).__name__}: {error} — this check "
            "was not done; your program was not affected."
        ),
        step=step,
        where=source,
        evidence={"exception": type(error).__name__, "detail": str(error)[:500], "at": location},
        causes=["A bug or unsupported case inside nndoctor, not in your code."],
        fixes=[
            "Report it with the JSON report attached; use --ignore to skip this check meanwhile."
        ],
    )


def run_rules(
    measurements: Mapping[str, Any],
    rules: Iterable[type[Rule]],
    *,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    report: Report | None = None,
    command: str = "check",
) -> Report:
    """Judge `measurements` with each rule; returns (or fills) a Report."""
    rules = list(rules)
    report = report if report is not None else Report(command=command)
    resolved = resolve_thresholds(rules, thresholds)
    unavailable = getattr(measurements, "unavailable", {})
    for rule_class in rules:
        missing = [name for name in rule_class.requires if measurements.get(name) is None]
        if missing:
            reasons = [unavailable.get(name, f"{name} was not measured") for name in missing]
            report.checks_skipped.append(SkippedCheck(rule_class.id, "; ".join(reasons)))
            continue
        try:
            rule = rule_class()
            rule.framework = measurements.get("framework") or rule.framework
            findings = rule.check(measurements, **resolved.get(rule_class.id, {}))
        except Exception as error:  # noqa: BLE001 — isolation is the point
            # The crash costs this rule only: it is reported, listed as not done, and every
            # other rule still runs.
            report.findings.append(internal_error_finding(f"rule {rule_class.id}", error))
            report.checks_skipped.append(SkippedCheck(
                rule_class.id, f"the rule failed inside nndoctor ({type(error).__name__}; see internal-error)"))
            continue
        report.findings.extend(findings)
        report.checks_run.append(rule_class.id)
    return report


__all__ = ["INTERNAL_ERROR", "Measurements", "internal_error_finding", "resolve_thresholds", "run_rules"]
