"""The tuning sections of the HTML report (`nndoctor tune lr|weight-decay`): the loss over
the learning-rate range test with the confirming sweep, and the weight-decay sweep, both
on a log x axis with the user's value and the suggestions marked."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nndoctor.report.svg import PALETTE, Line, Marker, line_plot, tick_label

SUGGESTION_COLOUR = "#2e7d32"


def _power_of_ten(exponent: float) -> str:
    return tick_label(10 ** exponent)


def _log_points(xs: Sequence[Any], ys: Sequence[Any]) -> list[tuple[float, float]]:
    return [(math.log10(x), float(y)) for x, y in zip(xs, ys)
            if isinstance(x, (int, float)) and x > 0 and isinstance(y, (int, float)) and math.isfinite(y)]


def _mark(value: Any, label: str, colour: str) -> list[Marker]:
    if isinstance(value, (int, float)) and value > 0:
        return [Marker(math.log10(value), label, colour, title=f"{label}: {tick_label(value)}")]
    return []


def render_lr_section(result: Mapping[str, Any]) -> str:
    lines = []
    curve = _log_points(result.get("range_lrs") or [], result.get("range_losses") or [])
    if curve:
        lines.append(Line("range test (median of the repeats)", curve, PALETTE[0]))
    sweep = result.get("sweep") or []
    held_out = _log_points([p.get("lr") for p in sweep], [p.get("held_out_loss") for p in sweep])
    if held_out:
        lines.append(Line("confirming sweep: held-out loss", held_out, PALETTE[1], dashed=True))
    if not lines:
        return ""
    markers = (_mark(result.get("user_lr"), "your lr", "#555")
               + _mark(result.get("suggestion"), "suggestion", SUGGESTION_COLOUR)
               + _mark(result.get("confirmed_lr"), "confirmed", SUGGESTION_COLOUR))
    svg = line_plot(lines, x_label="learning rate", y_label="loss", label="learning-rate range test",
                    markers=markers, x_format=_power_of_ten)
    return ("<section class=\"tune\"><h2>Learning rate</h2>"
            f"<figure>{svg}<figcaption>Loss while the learning rate grows step by step (on copies of the model), "
            "and the held-out loss of short real runs at a few rates. The useful rates lie on the steep "
            "descent, well before the loss turns up.</figcaption></figure></section>")


def render_weight_decay_section(result: Mapping[str, Any]) -> str:
    sweep = result.get("sweep") or []
    decays = [p.get("weight_decay") for p in sweep]
    lines = [Line(name, points, colour, dashed=dashed) for name, points, colour, dashed in (
        ("held-out loss", _log_points(decays, [p.get("held_out_loss") for p in sweep]), PALETTE[1], False),
        ("training loss", _log_points(decays, [p.get("train_loss") for p in sweep]), PALETTE[0], True)) if points]
    if not lines:
        return ""
    markers = [m for group in result.get("groups") or [] for m in _mark(
        group.get("weight_decay"), f"group {group.get('index')} now", "#555")]
    svg = line_plot(lines, x_label="weight decay", y_label="loss", label="weight-decay sweep", markers=markers,
                    x_format=_power_of_ten)
    return ("<section class=\"tune\"><h2>Weight decay</h2>"
            f"<figure>{svg}<figcaption>Training and held-out loss after a short run at each weight decay (on "
            "copies of the model). Too little leaves the gap between them; too much raises both."
            "</figcaption></figure></section>")
