"""Two runs side by side in one HTML page: their loss curves overlaid (train solid, val
dashed, each finding's first step marked in the run's colour), the learning rates
overlaid, and which findings each run had and from which step.

    render_compare_html(report_a, report_b, labels=("lr 0.01", "lr 0.1")) -> str

Reports are `Report`s or their JSON dicts (as `nndoctor compare` reads them from the
record); what each holds in `context["series"]` is drawn (nndoctor.live.report_series).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nndoctor.core.numbers import count
from nndoctor.core.report import Report
from nndoctor.report.curves import curve, is_series
from nndoctor.report.html_run import loss_lines
from nndoctor.report.svg import PALETTE, Line, Marker, line_plot

RUN_COLOURS = ((PALETTE[0], "#8fb3d9"), (PALETTE[1], "#f7c08a"))  # (train, val) per run


def loss_overlay_svg(series_by_run: Sequence[tuple[str, Mapping[str, Any]]],
                     markers: Sequence[Marker] = (), **options: Any) -> str:
    """One plot of several runs' train and val loss: a reusable piece for any side-by-side view."""
    lines = []
    for index, (name, series) in enumerate(series_by_run):
        train, val = RUN_COLOURS[index] if index < len(RUN_COLOURS) else (PALETTE[index % len(PALETTE)],) * 2
        lines += loss_lines(series, name=name, colour=train, val_colour=val)
    return line_plot(lines, y_label="loss", label="loss of each run", markers=markers, **options)


def render_compare_html(report_a: Report | Mapping[str, Any], report_b: Report | Mapping[str, Any],
                        labels: Sequence[str] = ("A", "B")) -> str:
    from nndoctor.report.html import _environment, header_facts, verdict

    reports = [r if isinstance(r, Report) else Report.from_dict(r) for r in (report_a, report_b)]
    names = [str(label) for label in labels][:2]
    runs, markers = [], []
    for index, (name, report) in enumerate(zip(names, reports)):
        series = report.context.get("series") if isinstance(report.context.get("series"), dict) else {}
        runs.append((name, series))
        colour = RUN_COLOURS[index][0]
        for finding in report.findings:
            if isinstance(finding.step, int) and not isinstance(finding.step, bool):
                markers.append(Marker(finding.step, f"{name}: {finding.rule}", colour,
                                      title=f"{name}, step {count(finding.step)}: {finding.message}"))
    loss = loss_overlay_svg(runs, markers)
    lr_lines = []
    for index, (name, series) in enumerate(runs):
        groups = [(group, values) for group, values in (series.get("lr") or {}).items() if is_series(values)]
        for order, (group, values) in enumerate(groups):
            # The run's own colour for its first group; further groups get the next palette colours.
            colour = RUN_COLOURS[index][0] if order == 0 else PALETTE[(2 + 3 * index + order) % len(PALETTE)]
            lr_lines.append(Line(f"{name} {group}", curve(values).points(), colour))
    lr = line_plot(lr_lines, y_label="learning rate", label="learning rate of each run", height=200)
    return _environment().get_template("compare.html.j2").render(
        runs=[{"name": name, "report": report, "facts": header_facts(report), "verdict": verdict(report)}
              for name, report in zip(names, reports)],
        loss_svg=_markup(loss), lr_svg=_markup(lr), finding_rows=_finding_rows(reports))


def _finding_rows(reports: list[Report]) -> list[dict[str, Any]]:
    """Per rule: its severity and the first step it fired in each run ('—' when it did not)."""
    rows: dict[str, dict[str, Any]] = {}
    for index, report in enumerate(reports):
        for finding in report.sorted_findings():
            row = rows.setdefault(finding.rule, {"rule": finding.rule, "severity": finding.severity,
                                                 "steps": ["—", "—"]})
            if row["steps"][index] == "—":
                row["steps"][index] = count(finding.step) if isinstance(finding.step, int) else "yes"
    return list(rows.values())


def _markup(svg: str) -> Any:
    from markupsafe import Markup

    return Markup(svg)
