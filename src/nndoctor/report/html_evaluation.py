"""The evaluation section of the HTML report: metric and baseline tables, a confusion-matrix
heat map, per-class recall bars with intervals, a reliability diagram and the top-loss
table. Plots are static inline SVG drawn here (no JavaScript, no CDN), so the page works
offline and in CI artifacts."""
from __future__ import annotations

from html import escape
from typing import Any

from nndoctor.rules.evaluation import _wording as w

MAX_MATRIX_CLASSES = 30
MAX_BARS = 40


def _colour(share: float) -> str:
    """White to deep blue as the share of a true class's rows grows."""
    share = min(max(share, 0.0), 1.0)
    red, green, blue = (int(255 - (255 - c) * share ** 0.7) for c in (21, 101, 192))
    return f"rgb({red},{green},{blue})"


def confusion_svg(matrix: list[list[int]], classes: list[Any]) -> str:
    k = len(classes)
    cell = max(18, min(48, 480 // max(k, 1)))
    longest = max(len(str(label)[:14]) for label in classes)
    margin = 30 + 6 * longest  # room for the class names, rotated on top
    size = margin + cell * k + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
             f'aria-label="confusion matrix, rows true class, columns predicted class" font-size="11" '
             f'font-family="system-ui, sans-serif">']
    parts.append(f'<text x="{margin + cell * k / 2}" y="12" text-anchor="middle" fill="#555">predicted</text>')
    parts.append(f'<text x="12" y="{margin + cell * k / 2}" text-anchor="middle" fill="#555" '
                 f'transform="rotate(-90 12 {margin + cell * k / 2})">true</text>')
    for i, label in enumerate(classes):
        name = escape(str(label))[:14]
        parts.append(f'<text x="{margin - 6}" y="{margin + cell * i + cell / 2 + 4}" text-anchor="end">{name}</text>')
        x = margin + cell * i + cell / 2
        parts.append(f'<text x="{x}" y="{margin - 6}" text-anchor="start" transform="rotate(-45 {x} {margin - 6})">'
                     f'{name}</text>')
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            x, y = margin + cell * j, margin + cell * i
            parts.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{_colour(share)}" '
                         f'stroke="#fff"><title>true {escape(str(classes[i]))} → predicted '
                         f'{escape(str(classes[j]))}: {count:,} ({share:.1%} of the class)</title></rect>')
            if k <= 12:
                ink = "#fff" if share > 0.55 else "#222"
                parts.append(f'<text x="{x + cell / 2}" y="{y + cell / 2 + 4}" text-anchor="middle" '
                             f'fill="{ink}">{count:,}</text>')
    parts.append("</svg>")
    return "".join(parts)


def recall_bars_svg(rows: list[dict[str, Any]]) -> str:
    shown = [row for row in rows if row.get("recall") is not None][:MAX_BARS]
    left, width, bar = 120, 360, 16
    height = 30 + bar * len(shown) + 20
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 70}" height="{height}" role="img" '
             f'aria-label="recall per class with 95% intervals" font-size="11" font-family="system-ui, sans-serif">']
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + width * tick
        parts.append(f'<line x1="{x}" y1="20" x2="{x}" y2="{height - 18}" stroke="#ddd"/>'
                     f'<text x="{x}" y="{height - 4}" text-anchor="middle" fill="#666">{tick:.0%}</text>')
    for index, row in enumerate(shown):
        y = 24 + bar * index
        parts.append(f'<text x="{left - 6}" y="{y + bar * 0.7}" text-anchor="end">{escape(str(row["class"]))[:16]}</text>')
        parts.append(f'<rect x="{left}" y="{y + 2}" width="{width * row["recall"]:.1f}" height="{bar - 5}" '
                     f'fill="#5c8fd6"><title>recall {row["recall"]:.1%} [{row["recall_low"]:.1%}, '
                     f'{row["recall_high"]:.1%}], {row["support"]:,} rows</title></rect>')
        low, high = left + width * row["recall_low"], left + width * row["recall_high"]
        mid = y + bar / 2
        parts.append(f'<line x1="{low:.1f}" y1="{mid}" x2="{high:.1f}" y2="{mid}" stroke="#222"/>'
                     f'<line x1="{low:.1f}" y1="{mid - 4}" x2="{low:.1f}" y2="{mid + 4}" stroke="#222"/>'
                     f'<line x1="{high:.1f}" y1="{mid - 4}" x2="{high:.1f}" y2="{mid + 4}" stroke="#222"/>')
        parts.append(f'<text x="{left + width + 6}" y="{y + bar * 0.7}" fill="#444">{row["recall"]:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(curve: list[dict[str, Any]]) -> str:
    size, pad = 300, 40
    scale = size - 2 * pad
    total = sum(point["n"] for point in curve) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img" '
             f'aria-label="reliability diagram" font-size="11" font-family="system-ui, sans-serif">',
             f'<rect x="{pad}" y="{pad}" width="{scale}" height="{scale}" fill="#fafafa" stroke="#ccc"/>',
             f'<line x1="{pad}" y1="{pad + scale}" x2="{pad + scale}" y2="{pad}" stroke="#999" stroke-dasharray="4 3"/>',
             f'<text x="{size / 2}" y="{size - 8}" text-anchor="middle" fill="#555">confidence</text>',
             f'<text x="12" y="{size / 2}" text-anchor="middle" fill="#555" transform="rotate(-90 12 {size / 2})">'
             'accuracy</text>']
    for tick in (0, 0.5, 1.0):
        parts.append(f'<text x="{pad + scale * tick}" y="{pad + scale + 14}" text-anchor="middle" fill="#666">{tick:g}</text>'
                     f'<text x="{pad - 6}" y="{pad + scale * (1 - tick) + 4}" text-anchor="end" fill="#666">{tick:g}</text>')
    for point in curve:
        x0, x1 = pad + scale * point["bin_low"], pad + scale * point["bin_high"]
        top = pad + scale * (1 - point["accuracy"])
        parts.append(f'<rect x="{x0 + 1:.1f}" y="{top:.1f}" width="{x1 - x0 - 2:.1f}" height="{pad + scale - top:.1f}" '
                     f'fill="#5c8fd6" fill-opacity="{0.35 + 0.65 * min(1.0, 5 * point["n"] / total):.2f}">'
                     f'<title>confidence {point["mean_confidence"]:.2f}: accuracy {point["accuracy"]:.2f} '
                     f'on {point["n"]:,}</title></rect>')
        cx, cy = pad + scale * point["mean_confidence"], pad + scale * (1 - point["mean_confidence"])
        parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" fill="#c62828"/>')
    parts.append("</svg>")
    return "".join(parts)


def number(value: Any, spec: str = ".3g") -> str:
    """A number for a table cell; non-finite values arrive as strings after JSON."""
    return format(value, spec) if isinstance(value, (int, float)) else str(value)


def render_evaluation_section(context: dict[str, Any]) -> str:
    """HTML of the evaluation section (already escaped; insert as markup)."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    environment = Environment(loader=PackageLoader("nndoctor.report", "templates"),
                              autoescape=select_autoescape(["html", "j2"]))
    splits = []
    for name, summary in context.get("splits", {}).items():
        plots = {}
        if summary.get("confusion_matrix") and len(context.get("classes", [])) <= MAX_MATRIX_CLASSES:
            plots["confusion"] = Markup(confusion_svg(summary["confusion_matrix"], context["classes"]))
        if summary.get("per_class") and context.get("task") != "regression":
            plots["recall"] = Markup(recall_bars_svg(summary["per_class"]))
        if summary.get("calibration", {}).get("curve"):
            plots["reliability"] = Markup(reliability_svg(summary["calibration"]["curve"]))
        splits.append({"name": name, "summary": summary, "plots": plots})
    return environment.get_template("evaluation.html.j2").render(
        context=context, splits=splits, metric_name=w.name, value=w.value, difference=w.difference,
        number=number)
