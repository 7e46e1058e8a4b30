"""Heat maps for the HTML report: one row per layer, one column per stretch of steps, the
colour a value on a log (or linear) scale, with a colour bar. Static SVG, escaped text."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from nndoctor.core.numbers import num
from nndoctor.report.svg import linear_ticks, open_svg, tick_label

# Viridis at five stops: perceptually even and readable in grey.
VIRIDIS = ((68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37))
# Blue (too small) – white (as expected) – red (too large): ColorBrewer RdBu at seven stops,
# so on a ±3-decade scale each decade is one stop (pale within one decade of the centre).
DIVERGING = ((33, 102, 172), (103, 169, 207), (209, 229, 240), (247, 247, 247), (253, 219, 199), (239, 138, 98),
             (178, 24, 43))
ZERO_COLOUR = "#222"  # an exact zero on a log scale (a gradient that never arrived)


def _mix(stops: Sequence[tuple[int, int, int]], share: float) -> str:
    share = min(max(share, 0.0), 1.0) * (len(stops) - 1)
    index = min(int(share), len(stops) - 2)
    t = share - index
    rgb = (round(a + (b - a) * t) for a, b in zip(stops[index], stops[index + 1]))
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class ColourScale:
    """Value → colour. `log`: positions by log10; `centre`: a diverging scale whose middle
    (white) is that value, spanning `decades` either side (update ratio ≈ 1e-3, 001)."""
    low: float
    high: float
    log: bool = True
    centre: float | None = None
    decades: float = 3.0

    @classmethod
    def around(cls, centre: float, decades: float = 3.0) -> ColourScale:
        return cls(centre / 10 ** decades, centre * 10 ** decades, log=True, centre=centre, decades=decades)

    @classmethod
    def fitted(cls, values: Sequence[float], log: bool = True) -> ColourScale:
        positive = [v for v in values if v > 0] if log else list(values)
        if not positive:
            return cls(1e-3, 1.0, log=log)
        low, high = min(positive), max(positive)
        if log and high / low < 10:  # at least one decade, so near-equal values do not look extreme
            low, high = math.sqrt(low * high) / math.sqrt(10), math.sqrt(low * high) * math.sqrt(10)
        return cls(low, high if high > low else low + 1, log=log)

    def share(self, value: float) -> float:
        if self.log:
            return (math.log10(value) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))
        return (value - self.low) / ((self.high - self.low) or 1.0)

    def colour(self, value: float) -> str:
        if self.log and value <= 0:
            return ZERO_COLOUR
        return _mix(DIVERGING if self.centre is not None else VIRIDIS, self.share(value))

    def ticks(self) -> list[float]:
        if not self.log:
            return linear_ticks(self.low, self.high, 4)
        first, last = math.ceil(math.log10(self.low) - 1e-9), math.floor(math.log10(self.high) + 1e-9)
        exponents = list(range(first, last + 1))
        stride = max(1, math.ceil(len(exponents) / 6))
        return [10.0 ** e for e in exponents[::stride]]


MAX_LABEL = 30


def shortened(names: list[str], limit: int = MAX_LABEL) -> list[str]:
    """Row labels that fit: the dotted prefix every long name shares is dropped first
    ("encoder.layers.10.attn.weight" → "…10.attn.weight": the part that tells rows apart)
    unless only the parameter would remain, then the middle of what is still too long.
    The full name stays in the tooltip."""
    long = [name for name in names if len(name) > limit]
    prefix = ""
    if len(long) > 1:
        common = long[0]
        for name in long[1:]:
            while not name.startswith(common):
                common = common[:-1]
        prefix = common[:common.rfind(".") + 1]
        if any("." not in name[len(prefix):] for name in long):
            prefix = ""  # what would remain is only the parameter ("weight"): the module's name is needed
    shown = []
    for name in names:
        if len(name) > limit and prefix and name.startswith(prefix):
            name = "…" + name[len(prefix):]
        shown.append(name if len(name) <= limit else name[:limit // 2 - 1] + "…" + name[-(limit // 2):])
    return shown


def heatmap(rows: Sequence[str], columns: Sequence[tuple[float, float]], cells: Sequence[Sequence[float | None]],
            *, scale: ColourScale, label: str, value_name: str, x_label: str = "step", width: int = 720) -> str:
    """rows[i] names the i-th row of `cells`; columns are (first step, last step) stretches."""
    if not rows or not columns:
        return ""
    short_names = shortened([str(name) for name in rows])
    longest = max(len(name) for name in short_names)
    left = 16 + int(6.1 * longest)
    right, top, cell_height = 80, 12, 13 if len(rows) <= 30 else 10
    plot_width = width - left - right
    cell_width = plot_width / len(columns)
    height = max(top + cell_height * len(rows) + 40, top + 60 + 30)  # room for the colour bar and its zero swatch
    parts = [open_svg(width, height, label)]
    cell_rects = []
    for r, name in enumerate(rows):
        y = top + r * cell_height
        parts.append(f'<text x="{left - 5}" y="{y + cell_height - 3}" text-anchor="end" fill="#333" '
                     f'font-size="{10 if cell_height > 10 else 9}"><title>{escape(str(name))}</title>'
                     f'{escape(short_names[r])}</text>')
        cell_rects += _row_cells(str(name), cells[r], columns, scale, value_name,
                                 x=left, y=y, cell_width=cell_width, cell_height=cell_height)
    parts.append('<g shape-rendering="crispEdges">' + "".join(cell_rects) + "</g>")  # no seams between cells
    bottom = top + cell_height * len(rows)
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_width}" height="{bottom - top}" fill="none" stroke="#ccc"/>')
    start, end = columns[0][0], columns[-1][1]
    for tick in linear_ticks(start, end, max(2, plot_width // 80)):
        x = left + (tick - start) / ((end - start) or 1.0) * plot_width
        parts.append(f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="#999"/>'
                     f'<text x="{x:.1f}" y="{bottom + 15}" text-anchor="middle" fill="#666">{tick_label(tick)}</text>')
    parts.append(f'<text x="{left + plot_width / 2:.0f}" y="{bottom + 32}" text-anchor="middle" fill="#555">'
                 f'{escape(x_label)}</text>')
    has_zero = scale.log and any(v is not None and v <= 0 for row in cells for v in row)
    parts.append(_colour_bar(scale, x=width - right + 14, top=top, height=max(bottom - top, 60), zero=has_zero))
    parts.append("</svg>")
    return "".join(parts)


def _row_cells(name: str, row: Sequence[float | None], columns: Sequence[tuple[float, float]], scale: ColourScale,
               value_name: str, *, x: float, y: float, cell_width: float, cell_height: int) -> list[str]:
    """One row's rectangles; neighbouring cells of one value (a sample carried across a
    gap) are one rectangle."""
    rects, c = [], 0
    while c < len(row):
        value, end = row[c], c + 1
        while end < len(row) and row[end] == value:
            end += 1
        if value is not None and math.isfinite(value):
            first, last = columns[c][0], columns[end - 1][1]
            rects.append(f'<rect x="{x + c * cell_width:.1f}" y="{y}" width="{cell_width * (end - c) + 0.3:.1f}" '
                         f'height="{cell_height}" fill="{scale.colour(value)}"><title>{escape(name)}, steps '
                         f'{num(round(first))}–{num(round(last))}: {escape(value_name)} {num(value)}</title></rect>')
        c = end
    return rects


def _colour_bar(scale: ColourScale, *, x: float, top: float, height: float, zero: bool = False) -> str:
    """A vertical bar of the scale (high at the top) with its ticks; `zero`: a swatch below
    it for exact zeros, which a log scale cannot place."""
    steps = 40
    parts = []
    for i in range(steps):
        share = 1 - (i + 0.5) / steps
        if scale.log:
            value = 10 ** (math.log10(scale.low) + share * (math.log10(scale.high) - math.log10(scale.low)))
        else:
            value = scale.low + share * (scale.high - scale.low)
        parts.append(f'<rect x="{x}" y="{top + i * height / steps:.1f}" width="12" height="{height / steps + 0.4:.1f}" '
                     f'fill="{scale.colour(value)}"/>')
    for tick in scale.ticks():
        y = top + (1 - scale.share(tick)) * height
        parts.append(f'<line x1="{x + 12}" y1="{y:.1f}" x2="{x + 16}" y2="{y:.1f}" stroke="#666"/>'
                     f'<text x="{x + 18}" y="{y + 4:.1f}" fill="#555" font-size="10">{tick_label(tick)}</text>')
    if zero:
        parts.append(f'<rect x="{x}" y="{top + height + 6:.1f}" width="12" height="10" fill="{ZERO_COLOUR}"/>'
                     f'<text x="{x + 18}" y="{top + height + 15:.1f}" fill="#555" font-size="10">0</text>')
    return "".join(parts)
