"""Render a Report as one self-contained HTML page (for CI artifacts and sharing)."""
from __future__ import annotations

from pathlib import Path

from nndoctor.core.finding import SEVERITIES
from nndoctor.core.report import Report
from nndoctor.report.terminal import evidence_line


def render_html(report: Report) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    environment = Environment(
        loader=PackageLoader("nndoctor.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    counts = {sev: len(report.by_severity(sev)) for sev in SEVERITIES}
    summary = ", ".join(f"{n} {sev}{'s' if n != 1 else ''}" for sev, n in counts.items())
    return environment.get_template("report.html.j2").render(
        report=report, findings=report.sorted_findings(), summary=summary, evidence=evidence_line,
        sections=_sections(report),
    )


def _sections(report: Report) -> str:
    """Command-specific sections (plots, tables) rendered as markup above the findings."""
    from markupsafe import Markup

    if "evaluation" not in report.context:
        return Markup("")
    from nndoctor.report.html_evaluation import render_evaluation_section

    return Markup(render_evaluation_section(report.context["evaluation"]))


def write_html(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_html(report), encoding="utf-8")
