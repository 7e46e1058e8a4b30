"""Render a Report as one self-contained HTML page (for CI artifacts and sharing), or as
a fragment for Jupyter's rich display. Every user-supplied string is escaped (autoescape):
column names, module names, paths and messages can never become markup or script."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, plural
from nndoctor.core.report import Report
from nndoctor.report.terminal import evidence_line, format_value, severity_counts, where_text

# Context entries worth showing a reader, in this order (others stay in the JSON).
CONTEXT_SHOWN = ("script", "script_args", "files", "splits", "label", "task", "model", "parameters",
                 "models", "optimizers", "steps_observed", "stopped_by", "preflight")


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("nndoctor.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
    )


def _variables(report: Report | None, findings: list[Finding]) -> dict[str, Any]:
    variables: dict[str, Any] = {"report": report, "findings": findings, "evidence": evidence_line,
                                 "where": where_text, "summary": "", "interrupted": "", "context": [], "sections": ""}
    if report is not None:
        variables["summary"] = (f"{severity_counts(report)} · {plural(len(report.checks_run), 'check')} run · "
                                f"{count(len(report.checks_skipped))} skipped")
        context = report.context
        variables["context"] = [(key, format_value(context[key])) for key in CONTEXT_SHOWN if key in context]
        if context.get("interrupted"):
            steps = context.get("steps_observed")
            at = f" at step {count(steps)}" if isinstance(steps, int) else ""
            variables["interrupted"] = f"The run was interrupted{at}; this report covers the steps before it."
        variables["sections"] = _sections(report)
    return variables


def render_html(report: Report) -> str:
    variables = _variables(report, report.sorted_findings())
    return _environment().get_template("report.html.j2").render(**variables)


def render_html_fragment(*, report: Report | None = None, findings: list[Finding] | None = None) -> str:
    """The report's (or some findings') HTML without the page around it."""
    shown = report.sorted_findings() if report is not None else list(findings or [])
    return _environment().get_template("report_body.html.j2").render(**_variables(report, shown))


def _sections(report: Report) -> str:
    """Command-specific sections (plots, tables) rendered as markup above the findings."""
    from markupsafe import Markup

    if "evaluation" not in report.context:
        return Markup("")
    from nndoctor.report.html_evaluation import render_evaluation_section

    return Markup(render_evaluation_section(report.context["evaluation"]))


def write_html(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_html(report), encoding="utf-8")
