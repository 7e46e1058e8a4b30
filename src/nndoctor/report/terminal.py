"""Render a Report for a person in a terminal (or a notebook), with rich.

Grouped by severity, worst first; each finding shows its message, where, the step of
first evidence, the numbers, likely causes and fixes. The footer says what was checked
and what was skipped, so "nothing found" never hides "nothing checked". The same
renderables back `Report.__rich__` and `Finding.__rich__` and their plain `__str__`.
"""
from __future__ import annotations

import sys
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.rule import Rule as Line
from rich.text import Text

from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.numbers import count, num, plural
from nndoctor.core.report import Report

STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}
HEADER = {"error": "Errors", "warning": "Warnings", "info": "Notes"}
NOUN = {"error": "error", "warning": "warning", "info": "note"}
MAX_EVIDENCE_CHARS = 300
SKIPPED_SHOWN = 6
PLAIN_WIDTH = 100


def stderr_console() -> Console:
    return Console(file=sys.stderr, highlight=False, soft_wrap=False)


def format_value(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return num(value) if isinstance(value, float) else count(value)
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
    withdrawn because later evidence contradicts it); also `--quiet`'s line per finding and
    `str(finding)`'s first line."""
    line = Text()
    if retracted:
        line.append("nndoctor retracted", style="dim")
        line.append(f" [{finding.rule}]", style="bold")
        line.append(" later steps contradict it: " + finding.message, style="dim")
        return line
    line.append(f"nndoctor {finding.severity}", style=STYLE[finding.severity])
    line.append(f" [{finding.rule}]", style="bold")
    if finding.step is not None:
        line.append(f" step {count(finding.step)}:")
    line.append(" " + finding.message)
    return line


def quiet_lines(report: Report) -> list[str]:
    """`--quiet`: one plain line per finding (worst first), then the counts."""
    lines = [live_line(finding).plain for finding in report.sorted_findings()]
    steps = report.context.get("steps_observed")
    over = f" over {plural(steps, 'step')}" if isinstance(steps, int) else ""
    lines.append(f"nndoctor: {severity_counts(report)}{over}.")
    return lines


def nothing_judged_line(report: Report, script_exit_code: int = 0, cannot_judge_exit: int | None = 2) -> str | None:
    """What to say when no training step was seen (None when one was): the framework's own
    words for a step, and whose exit code the command returns (`cannot_judge_exit`: the
    command's own code for "nothing to judge", None when it has none)."""
    if report.context.get("backwards_observed"):
        return None
    step = ("no optimizer update was seen (no optax update of a gradient)" if report.context.get("framework") == "jax"
            else "no training step was seen (no backward() on a loss)")
    if script_exit_code != 0:
        return (f"nndoctor: the script stopped with exit code {script_exit_code} before nndoctor saw a training "
                f"step: {step}, so the training checks had nothing to look at. The exit code is the script's.")
    ending = "." if cannot_judge_exit is None else f" (exit code {cannot_judge_exit})."
    children = report.context.get("child_processes")
    if children:
        ending += (f" The script started {plural(children, 'child process', 'child processes')} (multiprocessing): "
                   "if the training runs there (e.g. Hogwild workers), nndoctor run does not see it — it watches "
                   "the process it starts. Put `with nndoctor.watch():` around the training in the worker "
                   "function, or let one process train.")
    return f"nndoctor: {step}, so the training checks had nothing to look at{ending}"


def severity_counts(report: Report) -> str:
    return ", ".join(plural(len(report.by_severity(sev)), NOUN[sev]) for sev in SEVERITIES)


def finding_renderables(finding: Finding) -> list[RenderableType]:
    title = Text()
    title.append(f"● {finding.rule}", style=STYLE[finding.severity])
    title.append("  " + finding.message)
    lines: list[RenderableType] = [title]
    details: list[tuple[str, str, str]] = []
    if finding.where is not None:
        details.append(("where", where_text(finding), "dim"))
    if finding.step is not None:
        details.append(("step", count(finding.step), "dim"))
    if finding.evidence:
        details.append(("evidence", evidence_line(finding), "dim"))
    details += [("likely" if i == 0 else "", cause, "dim") for i, cause in enumerate(finding.causes[:3])]
    details += [("fix" if i == 0 else "", fix, "green") for i, fix in enumerate(finding.fixes[:4])]
    for label, value, style in details:
        line = Text("    ")
        line.append(f"{label:<9}", style=style)
        line.append(value)  # Text, not markup: user strings like "[x]" stay as written
        lines.append(line)
    return lines


def report_renderables(report: Report, *, verbose: bool = False) -> list[RenderableType]:
    parts: list[RenderableType] = [Line(Text(f"nndoctor {report.command}", style="bold"))]
    if report.context.get("interrupted"):
        steps = report.context.get("steps_observed")
        at = f" at step {count(steps)}" if isinstance(steps, int) else ""
        parts.append(Text(f"The run was interrupted{at}; this report covers the steps before it.",
                          style="bold"))
    for severity in SEVERITIES:
        findings = [f for f in report.sorted_findings() if f.severity == severity]
        if not findings:
            continue
        parts.append(Text(f"{HEADER[severity]} ({len(findings)})", style=STYLE[severity]))
        for finding in findings:
            parts.extend(finding_renderables(finding))
            parts.append(Text(""))
    if not report.findings and not report.judged():
        parts.append(Text.assemble(("Nothing could be judged", "bold yellow"),
                                   ": every check was skipped, for the reasons below.\n"))
    elif not report.findings:
        parts.append(Text.assemble(("No problems found", "bold green"), " by the checks that ran.\n"))
    parts.extend(footer_renderables(report, verbose=verbose))
    return parts


def footer_renderables(report: Report, *, verbose: bool) -> list[RenderableType]:
    lines = [Text(f"{severity_counts(report)} · {plural(len(report.checks_run), 'check')} run · "
                  f"{count(len(report.checks_skipped))} skipped", style="dim")]
    skipped = report.checks_skipped if verbose else report.checks_skipped[:SKIPPED_SHOWN]
    lines += [Text(f"  skipped {s.rule}: {s.reason}", style="dim") for s in skipped]
    if len(skipped) < len(report.checks_skipped):
        lines.append(Text(f"  … and {count(len(report.checks_skipped) - len(skipped))} more (--verbose)", style="dim"))
    lines.append(Text("`nndoctor explain <rule>` tells more about any rule.", style="dim"))
    return lines


def render_finding(console: Console, finding: Finding) -> None:
    console.print(Group(*finding_renderables(finding)))
    console.print()


def render_report(report: Report, console: Console | None = None, *, verbose: bool = False) -> None:
    console = console or Console(highlight=False)
    console.print(Group(*report_renderables(report, verbose=verbose)))


def plain_text(renderables: list[RenderableType]) -> str:
    """The renderables as plain text (no colour codes), for `str(report)` and logs."""
    console = Console(width=PLAIN_WIDTH, color_system=None, highlight=False, force_terminal=False,
                      record=True, file=_Discard())
    console.print(Group(*renderables))
    return console.export_text().rstrip() + "\n"


class _Discard:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None
