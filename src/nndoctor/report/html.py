"""Render a Report as one self-contained HTML page (for CI artifacts and sharing), or as
a fragment for Jupyter's rich display. Every user-supplied string is escaped (autoescape):
column names, module names, paths and messages can never become markup or script.

The page: a header (what was checked, on what, the verdict), the findings grouped by
severity, then the command's plots as inline SVG (training curves for a run, data plots
for an audit, the evaluation's plots), then what was and was not checked. No JavaScript,
no network: it reads the same offline, printed, or in a mail.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from nndoctor.core.finding import SEVERITIES, Finding
from nndoctor.core.numbers import count, plural
from nndoctor.core.report import EXIT_CANNOT_JUDGE, EXIT_CLEAN, Report
from nndoctor.report.terminal import evidence_line, format_value, severity_counts, where_text

# Context entries worth showing a reader, in this order (others stay in the JSON).
CONTEXT_SHOWN = ("script", "script_args", "files", "splits", "label", "task", "model", "parameters",
                 "models", "optimizers", "hyperparameters", "steps_observed", "stopped_by", "preflight")
SEVERITY_TITLES = {"error": "Errors", "warning": "Warnings", "info": "Notes"}


def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("nndoctor.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
    )


def verdict(report: Report) -> tuple[str, str]:
    """(css class, sentence) of the report's outcome, as its exit code decides it."""
    code = report.exit_code("error")
    if code == EXIT_CANNOT_JUDGE:
        return "unjudged", "Nothing could be judged: every check was skipped (reasons below)."
    if code != EXIT_CLEAN:
        return "error", f"Problems found: {severity_counts(report)}."
    if report.by_severity("warning"):
        return "warning", f"No errors, but {plural(len(report.by_severity('warning')), 'warning')} to look at."
    notes = len(report.by_severity("info"))
    return "clean", "No problems found by the checks that ran" + (f" ({plural(notes, 'note')} below)." if notes else ".")


def header_facts(report: Report) -> list[tuple[str, str]]:
    """What the report is about, in a line each: script, steps, model, data."""
    context, facts = report.context, []
    script = context.get("script")
    if script:
        args = context.get("script_args") or []
        facts.append(("script", " ".join([str(script), *map(str, args)])))
    if isinstance(context.get("steps_observed"), int):
        facts.append(("steps", count(context["steps_observed"])))
    if context.get("model"):
        facts.append(("model", format_value(context["model"])))
    if context.get("splits"):
        facts.append(("data", format_value(context["splits"])))
    return facts


def _variables(report: Report | None, findings: list[Finding]) -> dict[str, Any]:
    anchors = {index: f"finding-{index}" for index in range(len(findings))}
    groups = [(SEVERITY_TITLES[sev], [(anchors[i], f) for i, f in enumerate(findings) if f.severity == sev])
              for sev in SEVERITIES]
    variables: dict[str, Any] = {"report": report, "findings": findings, "groups": [g for g in groups if g[1]],
                                 "evidence": evidence_line, "where": where_text, "summary": "", "interrupted": "",
                                 "context": [], "sections": "", "verdict": None, "facts": []}
    if report is not None:
        variables["summary"] = (f"{plural(len(report.checks_run), 'check')} run · "
                                f"{count(len(report.checks_skipped))} skipped")
        variables["verdict"] = verdict(report)
        variables["facts"] = header_facts(report)
        context = report.context
        variables["context"] = [(key, format_value(context[key])) for key in CONTEXT_SHOWN if key in context]
        if context.get("interrupted"):
            steps = context.get("steps_observed")
            at = f" at step {count(steps)}" if isinstance(steps, int) else ""
            variables["interrupted"] = f"The run was interrupted{at}; this report covers the steps before it."
        variables["sections"] = _sections(report, findings, anchors)
    return variables


def render_html(report: Report) -> str:
    variables = _variables(report, report.sorted_findings())
    return _environment().get_template("report.html.j2").render(**variables)


def render_html_fragment(*, report: Report | None = None, findings: list[Finding] | None = None) -> str:
    """The report's (or some findings') HTML without the page around it."""
    shown = report.sorted_findings() if report is not None else list(findings or [])
    return _environment().get_template("report_body.html.j2").render(**_variables(report, shown))


def _sections(report: Report, findings: list[Finding], anchors: dict[int, str]) -> str:
    """Command-specific plots and tables, rendered as (already escaped) markup. A section
    that cannot be drawn (a hand-edited JSON) says so in one line; the rest still shows."""
    from html import escape

    from markupsafe import Markup

    context, parts = report.context, []
    for key, what in SECTIONS:
        if not isinstance(context.get(key), dict):
            continue
        try:
            parts.append(_render_section(key, context[key], findings, anchors, report.checks_run))
        except Exception as error:  # noqa: BLE001 — one broken section must not cost the page
            parts.append(f'<p class="note">The {escape(what)} could not be drawn from this report '
                         f'({escape(type(error).__name__)}: {escape(str(error)[:200])}).</p>')
    return Markup("".join(parts))


# context key → what its section shows, in page order.
SECTIONS = (("series", "training curves"), ("preflight_curves", "preflight curves"),
            ("data_summary", "data plots"), ("evaluation", "evaluation plots"),
            ("lr_range", "learning-rate plot"), ("weight_decay", "weight-decay plot"))


def _render_section(key: str, value: dict[str, Any], findings: list[Finding], anchors: dict[int, str],
                    checks_run: list[str]) -> str:
    if key == "series":
        from nndoctor.report.html_run import render_run_section

        return render_run_section(value, findings, anchors)
    if key == "preflight_curves":
        from nndoctor.report.html_preflight import render_preflight_section

        return render_preflight_section(value)
    if key == "data_summary":
        from nndoctor.report.html_audit import render_audit_section

        return render_audit_section(value, findings, checks_run)
    if key == "lr_range":
        from nndoctor.report.html_tune import render_lr_section

        return render_lr_section(value)
    if key == "weight_decay":
        from nndoctor.report.html_tune import render_weight_decay_section

        return render_weight_decay_section(value)
    from nndoctor.report.html_evaluation import render_evaluation_section

    return render_evaluation_section(value)


def write_html(report: Report, path: str | Path) -> None:
    Path(path).write_text(render_html(report), encoding="utf-8")
