"""The findings of two runs: which rules fired in only one of them, in both, or in neither."""
from __future__ import annotations

from typing import Any

from nndoctor.records.store import RunRow


def first_finding(run: RunRow, rules: tuple[str, ...]) -> dict[str, Any] | None:
    found = [f for f in (run.report or {}).get("findings", []) if f.get("rule") in rules]
    found.sort(key=lambda f: (f.get("step") is None, f.get("step") or 0))
    return found[0] if found else None


def finding_lines(a: RunRow, b: RunRow) -> list[str]:
    def by_rule(run: RunRow) -> dict[str, dict[str, Any]]:
        rules: dict[str, dict[str, Any]] = {}
        for finding in (run.report or {}).get("findings", []):
            rules.setdefault(finding["rule"], finding)
        return rules

    rules_a, rules_b = by_rule(a), by_rule(b)
    if a.report is None or b.report is None:
        return ["the findings of " + " and ".join(l for l, r in (("A", a), ("B", b)) if r.report is None)
                + " were not recorded (the run did not finish)"]

    def listed(rules: dict[str, dict[str, Any]], names: list[str]) -> str:
        return ", ".join(f"{name} ({rules[name]['severity']}"
                         + (f", step {rules[name]['step']})" if rules[name].get("step") is not None else ")")
                         for name in names)

    only_a = [r for r in rules_a if r not in rules_b]
    only_b = [r for r in rules_b if r not in rules_a]
    both = [r for r in rules_a if r in rules_b]
    lines = []
    if only_b:
        lines.append(f"only B: {listed(rules_b, only_b)}")
    if only_a:
        lines.append(f"only A: {listed(rules_a, only_a)}")
    if both:
        lines.append(f"both: {', '.join(both)}")
    if not rules_a and not rules_b:
        lines.append("neither run has a finding")
    return lines
