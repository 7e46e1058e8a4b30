"""Small static SVG charts for the HTML report: line plots (with min–max bands and marked
steps) and their axes; bars are in svg_bars, heat maps in svg_heatmap. Hand-built, no
JavaScript and no network, so a page works offline, in CI artifacts and in mail. Every
text drawn here is escaped; callers pass plain strings.

    line_plot([Line("train loss", [(0, 2.3), (100, 0.4)])], x_label="step", y_label="loss",
              markers=[Marker(40, "loss-diverging", colour=SEVERITY_COLOURS["error"])])

Charts carry a viewBox, so they shrink with a narrow window instead of overflowing.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from nndoctor.core.numbers import num

# Tableau 10: distinguishable, and still readable for the common colour-vision deficiencies.
PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
           "#9c755f", "#bab0ac")
SEVERITY_COLOURS = {"error": "#c62828", "warning": "#b07b00", "info": "#0277bd"}
FONT = 'font-family="system-ui, sans-serif" font-size="11"'
# A positive series spanning more than this factor is drawn on a log axis (losses, norms, lrs).
LOG_AXIS_MIN_RATIO = 30.0


@dataclass
class Line:
    name: str
    points: Sequence[tuple[float, float]]
    colour: str | None = None
    band: Sequence[tuple[float, float, float]] = ()  # (x, low, high): the spread inside each point
    dashed: bool = False


@dataclass
class Marker:
    """A vertical mark at a step (a finding fired there); `href` links it to the finding."""
    x: float
    label: str
    colour: str = "#555"
    title: str = ""
    href: str | None = None


@dataclass
class Frame:
    """Plot area and axis mappings of one chart."""
    width: int
    height: int
    left: int = 64
    right: int = 16
    top: int = 28
    bottom: int = 38
    x_range: tuple[float, float] = (0.0, 1.0)
    y_range: tuple[float, float] = (0.0, 1.0)
    log_y: bool = False
    parts: list[str] = field(default_factory=list)

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / ((high - low) or 1.0) * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        low, high = self.y_range
        if self.log_y:
            value, low, high = (math.log10(max(v, 1e-300)) for v in (value, low, high))
        share = (value - low) / ((high - low) or 1.0)
        return self.height - self.bottom - share * (self.height - self.top - self.bottom)


def open_svg(width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="max-width:100%;height:auto" role="img" '
            f'aria-label="{escape(label)}" {FONT}>')


def linear_ticks(low: float, high: float, wanted: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 × 10^k apart) covering [low, high]."""
    if not high > low:
        return [low]
    raw = (high - low) / max(wanted, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(f * power for f in (1, 2, 5, 10) if f * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten inside [low, high] (every other one when there are many); 1, 2, 5 ×
    10^k when the range spans too few decades for powers alone to be read."""
    first, last = math.ceil(math.log10(low) - 1e-9), math.floor(math.log10(high) + 1e-9)
    exponents = list(range(first, last + 1))
    if len(exponents) < 3:
        ticks = [f * 10.0 ** e for e in range(first - 1, last + 1) for f in (1, 2, 5)]
        return [t for t in ticks if low * (1 - 1e-9) <= t <= high * (1 + 1e-9)] or [low, high]
    stride = max(1, math.ceil(len(exponents) / 7))
    return [10.0 ** e for e in exponents[::stride]]


def wants_log_axis(values: Sequence[float]) -> bool:
    finite = [v for v in values if math.isfinite(v)]
    return bool(finite) and min(finite) > 0 and max(finite) / min(finite) > LOG_AXIS_MIN_RATIO


def axes(frame: Frame, x_label: str, y_label: str, y_format: Callable[[float], str] | None = None,
         x_format: Callable[[float], str] | None = None) -> None:
    """Grid lines, tick labels and axis titles."""
    y_format, x_format = y_format or tick_label, x_format or tick_label
    parts, bottom = frame.parts, frame.height - frame.bottom
    x_ticks = linear_ticks(*frame.x_range, wanted=max(2, (frame.width - frame.left) // 90))
    for tick in x_ticks:
        x = frame.x(tick)
        parts.append(f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{bottom}" stroke="#eee"/>'
                     f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle" fill="#666">{escape(x_format(tick))}</text>')
    y_ticks = log_ticks(*frame.y_range) if frame.log_y else linear_ticks(*frame.y_range, wanted=4)
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.width - frame.right}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#666">{escape(y_format(tick))}</text>')
    parts.append(f'<rect x="{frame.left}" y="{frame.top}" width="{frame.width - frame.left - frame.right}" '
                 f'height="{bottom - frame.top}" fill="none" stroke="#ccc"/>')
    parts.append(f'<text x="{(frame.left + frame.width - frame.right) / 2:.0f}" y="{frame.height - 4}" '
                 f'text-anchor="middle" fill="#555">{escape(x_label)}</text>')
    middle = (frame.top + bottom) / 2
    parts.append(f'<text x="12" y="{middle:.0f}" text-anchor="middle" fill="#555" '
                 f'transform="rotate(-90 12 {middle:.0f})">{escape(y_label)}</text>')


def tick_label(value: float) -> str:
    """A tick as people write it: 200 not 200.00000000000003, 1e-4 not 1e-04."""
    rounded = float(f"{value:.6g}")
    if rounded != 0 and (abs(rounded) < 1e-3 or abs(rounded) >= 1e6):
        mantissa, exponent = f"{rounded:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return num(int(rounded) if rounded.is_integer() else rounded)


def legend(frame: Frame, entries: Sequence[tuple[str, str, bool]], boxes: bool = False) -> None:
    """One row of (name, colour, dashed) above the plot area; `boxes`: filled squares (bars)."""
    x = frame.left
    for name, colour, dashed in entries:
        shown = name if len(name) <= 40 else name[:39] + "…"
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        key = (f'<rect x="{x + 4}" y="6" width="11" height="11" fill="{colour}"/>' if boxes else
               f'<line x1="{x}" y1="12" x2="{x + 18}" y2="12" stroke="{colour}" stroke-width="2"{dash}/>')
        frame.parts.append(f'{key}<text x="{x + 22}" y="16" fill="#333">{escape(shown)}</text>')
        x += 34 + 6.2 * len(shown)


def line_plot(lines: Sequence[Line], *, x_label: str = "step", y_label: str = "", label: str = "",
              markers: Sequence[Marker] = (), width: int = 720, height: int = 260,
              log_y: bool | None = None, x_range: tuple[float, float] | None = None,
              y_range: tuple[float, float] | None = None, y_format: Callable[[float], str] | None = None,
              x_format: Callable[[float], str] | None = None) -> str:
    """Lines over a shared x axis; y on a log axis when the values span decades (auto).
    `x_range`/`y_range` fix an axis (several plots of one run share its steps); `y_format`
    and `x_format` write the tick labels (percentages; 10**x for an x given as log10)."""
    drawn = [line for line in lines if any(math.isfinite(y) for _, y in line.points)]
    if not drawn:
        return ""
    values = [y for line in drawn for _, y in line.points if math.isfinite(y)]
    values += [v for line in drawn for _, low, high in line.band for v in (low, high) if math.isfinite(v)]
    xs = [x for line in drawn for x, _ in line.points] + [m.x for m in markers]
    log_y = wants_log_axis(values) if log_y is None else log_y and min(values) > 0
    low, high = min(values), max(values)
    if log_y:  # a little room above and below, in ratio
        low, high = low / 1.25, high * 1.25
    elif high == low:
        low, high = low - (abs(low) or 1) * 0.1, high + (abs(high) or 1) * 0.1
    else:
        pad = (high - low) * 0.05
        low, high = (0.0 if low >= 0 and low - pad < 0 else low - pad), high + pad
    if y_range is not None:
        low, high = y_range
    if x_range is not None:
        xs = [*x_range, *xs]
    frame = Frame(width, height, x_range=(min(xs), max(max(xs), min(xs) + 1)), y_range=(low, high), log_y=log_y)
    frame.parts.append(open_svg(width, height, label or y_label))
    axes(frame, x_label, y_label, y_format, x_format)
    for index, line in enumerate(drawn):
        colour = line.colour or PALETTE[index % len(PALETTE)]
        band = [(x, lo, hi) for x, lo, hi in line.band if math.isfinite(lo) and math.isfinite(hi) and hi > lo]
        if band:
            upper = " ".join(f"{frame.x(x):.1f},{frame.y(hi):.1f}" for x, _, hi in band)
            lower = " ".join(f"{frame.x(x):.1f},{frame.y(lo):.1f}" for x, lo, _ in reversed(band))
            frame.parts.append(f'<polygon points="{upper} {lower}" fill="{colour}" fill-opacity="0.15" stroke="none"/>')
        frame.parts.append(_polyline(frame, line.points, colour, line.dashed, line.name))
    _markers(frame, markers)
    legend(frame, [(line.name, line.colour or PALETTE[i % len(PALETTE)], line.dashed) for i, line in enumerate(drawn)])
    frame.parts.append("</svg>")
    return "".join(frame.parts)


def _polyline(frame: Frame, points: Sequence[tuple[float, float]], colour: str, dashed: bool, name: str) -> str:
    """One polyline per finite stretch (a NaN breaks the line rather than bridging it)."""
    stretches, current = [], []
    for x, y in points:
        if math.isfinite(y):
            current.append(f"{frame.x(x):.1f},{frame.y(y):.1f}")
        elif current:
            stretches.append(current)
            current = []
    if current:
        stretches.append(current)
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    return "".join(f'<polyline points="{" ".join(s)}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}>'
                   f'<title>{escape(name)}</title></polyline>' if len(s) > 1 else
                   f'<circle cx="{s[0].split(",")[0]}" cy="{s[0].split(",")[1]}" r="2.5" fill="{colour}"/>'
                   for s in stretches)


def _markers(frame: Frame, markers: Sequence[Marker]) -> None:
    """Dashed verticals at the marked steps, labels written downwards from the top. Marks
    that fall on one pixel column share a label ("rule +2") and list every title; a label
    that would touch the previous one starts below it, or is left out when it would not
    fit (the line and its tooltip stay)."""
    columns: dict[int, list[Marker]] = {}
    for marker in sorted(markers, key=lambda m: m.x):
        columns.setdefault(round(frame.x(marker.x) / 3), []).append(marker)
    last_label_x, last_label_end = -1e9, 0.0
    bottom = frame.height - frame.bottom
    for group in columns.values():
        first = group[0]
        x = frame.x(first.x)
        label = first.label[:32] + (f" +{len(group) - 1}" if len(group) > 1 else "")
        title = "\n".join(m.title or m.label for m in group)
        mark = (f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{bottom}" stroke="{first.colour}" '
                f'stroke-width="1.2" stroke-dasharray="3 2"/>'
                f'<path d="M{x - 4:.1f},{frame.top - 6} L{x + 4:.1f},{frame.top - 6} L{x:.1f},{frame.top} Z" '
                f'fill="{first.colour}"/>')
        start = frame.top + 4 if x - last_label_x >= 13 else last_label_end + 8
        if start + 6 * len(label) <= bottom:
            # A white halo keeps the label readable where it crosses a curve.
            mark += (f'<text x="{x + 3:.1f}" y="{start:.0f}" fill="{first.colour}" font-size="10" '
                     f'stroke="#fff" stroke-width="3" paint-order="stroke" '
                     f'transform="rotate(90 {x + 3:.1f} {start:.0f})">{escape(label)}</text>')
            last_label_x, last_label_end = x, start + 6 * len(label)
        mark = f"<g><title>{escape(title)}</title>{mark}</g>"
        if first.href:
            mark = f'<a href="{escape(first.href)}">{mark}</a>'
        frame.parts.append(mark)
