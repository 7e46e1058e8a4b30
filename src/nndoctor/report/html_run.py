"""The training-curves section of a run's HTML report, drawn from `report.context["series"]`
(nndoctor.live.report_series): the loss and validation loss with the step each finding
first fired marked, per-layer gradient-norm and update-ratio heat maps, the dead and
saturated share of each activation, and the learning rate of each parameter group."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.report.curves import Curve, curve, grid, is_series
from nndoctor.report.svg import PALETTE, SEVERITY_COLOURS, Line, Marker, line_plot
from nndoctor.report.svg_heatmap import ColourScale, heatmap

HEATMAP_COLUMNS = 48
# Up to this many activations read as separate lines; more become a heat map.
MAX_ACTIVATION_LINES = 6
# update/weight per step ≈ 1e-3 is the healthy middle (001): white on the diverging scale.
UPDATE_RATIO_CENTRE = 1e-3


def loss_lines(series: Mapping[str, Any], *, name: str = "", colour: str | None = None,
               val_colour: str | None = None) -> list[Line]:
    """The train (solid, with its min–max band) and validation (dashed) loss lines of one run."""
    lines = []
    prefix = f"{name} " if name else ""
    if is_series(series.get("loss")):
        train = curve(series["loss"])
        lines.append(Line(f"{prefix}train loss", train.points(), colour or PALETTE[0], band=train.band()))
    if is_series(series.get("val_loss")):
        val = curve(series["val_loss"])
        lines.append(Line(f"{prefix}val loss", val.points(), val_colour or colour or PALETTE[1], dashed=True))
    return lines


def finding_markers(findings: Sequence[Finding], anchors: Mapping[int, str] | None = None) -> list[Marker]:
    """A mark per finding with a step, coloured by severity, linked to the finding's block."""
    markers = []
    for index, finding in enumerate(findings):
        if isinstance(finding.step, int) and not isinstance(finding.step, bool):
            markers.append(Marker(finding.step, finding.rule, SEVERITY_COLOURS.get(finding.severity, "#555"),
                                  title=f"step {count(finding.step)}: {finding.message}",
                                  href=f"#{anchors[index]}" if anchors and index in anchors else None))
    return markers


def render_run_section(series: Mapping[str, Any], findings: Sequence[Finding],
                       anchors: Mapping[int, str] | None = None) -> str:
    """HTML (escaped; insert as markup) of the curves, or "" when the run recorded none."""
    figures = []
    span = run_span(series)
    lines = loss_lines(series)
    if lines:
        markers = finding_markers(findings, anchors)
        has_train, has_val = is_series(series.get("loss")), is_series(series.get("val_loss"))
        caption = {(True, True): "Training loss (band: min–max of the steps each point stands for) and "
                                 "validation loss (dashed).",
                   (True, False): "Training loss (band: min–max of the steps each point stands for); no "
                                  "validation loss was seen.",
                   (False, True): "Validation loss (dashed); no training loss was recorded."}[(has_train, has_val)]
        if markers:
            caption += (" Dashed verticals mark the step each finding first fired; hover for its message, click to "
                        "jump to it.")
        figures.append(_figure(line_plot(lines, y_label="loss", label="training and validation loss",
                                         markers=markers, x_range=span), caption))
    left_out = series.get("layers_left_out") or {}
    figures.append(_layer_heatmap(series, span, "grad_norm", "gradient norm", ColourScale.fitted,
                                  "Gradient norm per layer over training (log colour scale; black: exactly zero). "
                                  "A row fading to dark blue is vanishing; a bright band spreading upwards is "
                                  "exploding.", left_out))
    figures.append(_layer_heatmap(series, span, "update_ratio", "update/weight", lambda values: ColourScale.around(
                                  UPDATE_RATIO_CENTRE), "Update size relative to the weights per step (‖Δw‖/‖w‖, "
                                  "log scale): white is the typical healthy 1e-3 and the band 1e-4–1e-2 stays pale; "
                                  "deep red (≥ 0.1) is too large, unstable; deep blue (≤ 1e-5) barely learns.",
                                  left_out))
    for key, what in (("dead_fraction", "dead units"), ("saturated_fraction", "saturated units")):
        figures.append(_activation_figure(series, span, key, what, left_out))
    figures.append(_lr_figure(series, span))
    shown = [figure for figure in figures if figure]
    if not shown:
        return ""
    return '<section class="curves"><h2>Training curves</h2>' + "".join(shown) + "</section>"


def _figure(svg: str, caption: str, note: str = "") -> str:
    if not svg:
        return ""
    note_html = f" <em>{escape(note)}</em>" if note else ""
    return f"<figure>{svg}<figcaption>{escape(caption)}{note_html}</figcaption></figure>"


def _left_out_note(left_out: Mapping[str, Any], key: str) -> str:
    n = left_out.get(key)
    return f"{count(n)} more layers are in the run but not drawn (an even spread across depth is shown)." if n else ""


def _layer_curves(series: Mapping[str, Any], key: str) -> tuple[list[str], list[Curve]]:
    family = series.get(key)
    if not isinstance(family, Mapping):
        return [], []
    names, curves = [], []
    for name, values in family.items():
        drawn = curve(values)
        if drawn.steps:
            names.append(str(name))
            curves.append(drawn)
    return names, curves


def run_span(series: Mapping[str, Any]) -> tuple[float, float] | None:
    """The steps the run covered (first to last point of any curve), shared by every plot."""
    steps = []
    for value in series.values():
        members = [value] if is_series(value) else list(value.values()) if isinstance(value, Mapping) else []
        for member in members:
            drawn = curve(member) if is_series(member) else None
            if drawn is not None and drawn.steps:
                steps += [drawn.steps[0], drawn.steps[-1]]
    return (min(steps), max(steps)) if steps else None


Span = tuple[float, float] | None


def _layer_heatmap(series: Mapping[str, Any], span: Span, key: str, value_name: str,
                   make_scale: Callable[[list[float]], ColourScale], caption: str, left_out: Mapping[str, Any]) -> str:
    names, curves = _layer_curves(series, key)
    if not names:
        return ""
    columns = min(HEATMAP_COLUMNS, max(len(c.steps) for c in curves))
    edges, cells = grid(curves, columns, span)
    scale = make_scale([v for row in cells for v in row if v is not None])
    return _figure(heatmap(names, edges, cells, scale=scale, label=f"{value_name} per layer", value_name=value_name),
                   caption, _left_out_note(left_out, key))


def _activation_figure(series: Mapping[str, Any], span: Span, key: str, what: str,
                       left_out: Mapping[str, Any]) -> str:
    names, curves = _layer_curves(series, key)
    if not names:
        return ""
    caption = (f"Share of {what} per activation layer on the sampled steps"
               + (" (dead: never positive over the sampled window)." if key == "dead_fraction" else
                  " (in the flat part of tanh/sigmoid, where the gradient vanishes)."))
    if len(names) <= MAX_ACTIVATION_LINES:
        lines = [Line(name, c.points()) for name, c in zip(names, curves)]
        largest = max(max(c.values) for c in curves)
        svg = line_plot(lines, y_label=f"share of {what.split()[0]} units", label=f"{what} per layer", log_y=False,
                        height=220, x_range=span, y_range=(0.0, min(1.0, max(0.1, largest * 1.15))),
                        y_format=lambda share: f"{share:.0%}")
    else:
        edges, cells = grid(curves, min(HEATMAP_COLUMNS, max(len(c.steps) for c in curves)), span)
        svg = heatmap(names, edges, cells, scale=ColourScale(0.0, 1.0, log=False), label=f"{what} per layer",
                      value_name=f"share {what.split()[0]}")
    return _figure(svg, caption, _left_out_note(left_out, key))


def _lr_figure(series: Mapping[str, Any], span: Span) -> str:
    names, curves = _layer_curves(series, "lr")
    if not names:
        return ""
    lines = [Line(name, c.points()) for name, c in zip(names, curves)]
    return _figure(line_plot(lines, y_label="learning rate", label="learning rate per parameter group", height=200,
                             x_range=span),
                   "Learning rate of each optimizer parameter group (as the scheduler set it).")
