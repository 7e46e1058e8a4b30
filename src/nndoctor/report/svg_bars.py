"""Grouped horizontal bars for the HTML report (class shares per split). Static SVG,
escaped text; see nndoctor.report.svg for the shared pieces."""
from __future__ import annotations

from collections.abc import Sequence
from html import escape

from nndoctor.report.svg import PALETTE, Frame, legend, linear_ticks, open_svg


def grouped_bars(categories: Sequence[str], groups: Sequence[tuple[str, Sequence[float], Sequence[str]]], *,
                 label: str, width: int = 560) -> str:
    """Horizontal bars: per category one bar per group (e.g. per class one bar per split).
    `groups` holds (name, values in [0, 1], tooltip per category)."""
    if not categories or not groups:
        return ""
    left, right, bar = 130, 60, 11
    block = bar * len(groups) + 8
    height = 34 + block * len(categories) + 24
    top, plot_width = 30, width - left - right
    largest = max(max(values) for _, values, _ in groups)
    # The axis ends at the first round share above the largest bar (at most 100%).
    high = next((t for t in linear_ticks(0, 1.0, 10) if t >= largest * 1.05), 1.0) if largest > 0 else 1.0
    parts = [open_svg(width, height, label)]
    for tick in linear_ticks(0, high, 4):
        x = left + plot_width * tick / high
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - 22}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{height - 10}" text-anchor="middle" fill="#666">{tick:.0%}</text>')
    for index, category in enumerate(categories):
        y0 = top + block * index
        name = str(category)
        parts.append(f'<text x="{left - 6}" y="{y0 + block / 2 + 2:.1f}" text-anchor="end" fill="#333">'
                     f'<title>{escape(name)}</title>{escape(name[:18])}</text>')
        for g, (group, values, tips) in enumerate(groups):
            value = values[index]
            y = y0 + g * bar
            parts.append(f'<rect x="{left}" y="{y}" width="{max(plot_width * value / high, 0.5):.1f}" '
                         f'height="{bar - 2}" fill="{PALETTE[g % len(PALETTE)]}"><title>{escape(tips[index])}'
                         f'</title></rect>')
            parts.append(f'<text x="{left + plot_width * value / high + 4:.1f}" y="{y + bar - 3}" fill="#555" '
                         f'font-size="9">{value:.1%}</text>')
    frame = Frame(width, height, left=left)
    legend(frame, [(name, PALETTE[g % len(PALETTE)], False) for g, (name, _, _) in enumerate(groups)], boxes=True)
    parts.extend(frame.parts)
    parts.append("</svg>")
    return "".join(parts)
