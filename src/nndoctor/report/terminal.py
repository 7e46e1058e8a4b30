"""Render a Report for a person in a terminal, with rich.

Grouped by severity, worst first; each finding shows its message, where, the step of
first evidence, the numbers, likely causes and fixes. The footer says what was checked
and what was skipped, so "nothing found" never hides "nothing checked".
"""
from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.report import Report

STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
HEADER = {"error": "Errors", "warning": "Warnings", "info": "Notes"}
MAX_EVIDENCE_CHARS = 300


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=False)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        shown = ", ".join(format_value(v) for v in value[:8])
        return f"[{shown}{', …' if len(value) > 8 else ''}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in list(value.items())[:8]) + "}"
    return str(value)


def evidence_line(finding: Finding) -> str:
    text = "  ".join(f"{key}={format_value(value)}" for key, value in finding.evidence.items())
    return text if len(text) <= MAX_EVIDENCE_CHARS else text[: MAX_EVIDENCE_CHARS - 1] + "…"


def where_text(finding: Finding) -> str:
    if finding.where is None:
        return ""
    if isinstance(finding.where, list):
        return format_value(finding.where)
    return str(finding.where)


def live_line(finding: Finding, retracted: bool = False) -> Text:
    """The one line printed the moment a finding first fires during `nndoctor run` (or is
    withdrawn because later evidence contradicts it)."""
    line = Text()
    if retracted:
        line.append("nndoctor retracted", style="dim")
        line.append(f" [{finding.rule}]", style="bold")
        line.append(" later steps contradict it: " + finding.message, style="dim")
        return line
    line.append(f"nndoctor {finding.severity}", style=STYLE[finding.severity])
    line.append(f" [{finding.rule}]", style="bold")
    if finding.step is not None:
        line.append(f" step {finding.step}:")
    line.append(" " + finding.message)
    return line


def render_finding(console: Console, finding: Finding) -> None:
    title = Text()
    title.append(f"● {finding.rule}", style=STYLE[finding.severity])
    title.append("  " + finding.message)
    console.print(title)
    details: list[tuple[str, str]] = []
    if finding.where is not None:
        details.append(("where", where_text(finding)))
    if finding.step is not None:
        details.append(("step", str(finding.step)))
    if finding.evidence:
        details.append(("evidence", evidence_line(finding)))
    for label, value in details:
        console.print(f"    [dim]{label:<9}[/dim]{escape(value)}")
    for index, cause in enumerate(finding.causes[:3]):
        label = "likely" if index == 0 else ""
        console.print(f"    [dim]{label:<9}[/dim]{escape(cause)}")
    for index, fix in enumerate(finding.fixes[:4]):
        label = "fix" if index == 0 else ""
        console.print(f"    [green]{label:<9}[/green]{escape(fix)}")
    console.print()


def render_report(report: Report, console: Console | None = None, *, verbose: bool = False) -> None:
    console = console or Console(highlight=False)
    console.rule(f"[bold]nndoctor {escape(report.command)}[/bold]")
    for severity in SEVERITIES:
        findings = [f for f in report.sorted_findings() if f.severity == severity]
        if not findings:
            continue
        console.print(Text(f"{HEADER[severity]} ({len(findings)})", style=STYLE[severity]))
        for finding in findings:
            render_finding(console, finding)
    if not report.findings:
        console.print("[bold green]No problems found[/bold green] by the checks that ran.\n")
    render_footer(report, console, verbose=verbose)


def render_footer(report: Report, console: Console, *, verbose: bool) -> None:
    counts = {sev: len(report.by_severity(sev)) for sev in SEVERITIES}
    summary = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items())
    console.print(
        f"[dim]{summary} · {len(report.checks_run)} checks run · "
        f"{len(report.checks_skipped)} skipped[/dim]"
    )
    skipped = report.checks_skipped if verbose else report.checks_skipped[:6]
    for skipped_check in skipped:
        console.print(f"[dim]  skipped {skipped_check.rule}: {escape(skipped_check.reason)}[/dim]")
    if len(skipped) < len(report.checks_skipped):
        console.print(f"[dim]  … and {len(report.checks_skipped) - len(skipped)} more (--verbose)[/dim]")
    console.print("[dim]`nndoctor explain <rule>` tells more about any rule.[/dim]")
