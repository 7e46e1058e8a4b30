"""The preflight section of the HTML report: the loss curves of the overfit-one-batch runs
(`report.context["preflight_curves"]`, from the preflight experiments). A model that can
learn drives one small batch's loss to its floor; a curve that stays flat is the finding."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.numbers import count
from nndoctor.report.svg import Line, line_plot


def render_preflight_section(curves: Mapping[str, Any]) -> str:
    lines = []
    floors = []
    for run in curves.get("overfit") or []:
        steps, losses = run.get("curve_steps") or [], run.get("curve") or []
        points = [(float(s), float(v)) for s, v in zip(steps, losses)
                  if isinstance(s, (int, float)) and isinstance(v, (int, float))]
        if len(points) < 2:
            continue
        data = f"one batch of {count(run.get('samples'))}" if run.get("data") == "batch" else "two samples"
        who = "reference Adam 1e-3" if run.get("reference") else f"your {run.get('optimizer')}"
        lines.append(Line(f"{who}, {data}", points))
        if isinstance(run.get("floor"), (int, float)):
            floors.append(float(run["floor"]))
    if not lines:
        return ""
    svg = line_plot(lines, x_label="step", y_label="loss", label="overfit-one-batch loss curves", height=240)
    floor = f" The loss floor the runs were judged against is {min(floors):.3g}." if floors else ""
    return ('<section class="preflight"><h2>Preflight: can the model overfit one batch?</h2>'
            f"<figure>{svg}<figcaption>Training loss of short runs on one fixed batch (and on two samples), "
            "on copies of the model: a model and loss that can learn drive it towards the floor within the "
            f"budget.{floor}</figcaption></figure></section>")
