"""Numbers in messages, formatted for people: every rule and view uses these.

    num(0.000013) -> '1.3e-05'     num(0.5123) -> '0.512'     num(1234567.0) -> '1.23e+06'
    num(12345.6)  -> '12,300'      count(590720) -> '590,720' times(3.0) -> '3×'
    times(inf)    -> 'an unbounded factor (overflow)'         percent(0.0512) -> '5.1%'

Three significant digits are enough to compare a measurement with its threshold; more
digits only hide which number matters. Counts keep every digit, with thousands separators.
"""
from __future__ import annotations

import math
from typing import Any

SIGNIFICANT = 3
# Between these magnitudes plain decimals read best; outside, powers of ten do.
SMALLEST_PLAIN = 1e-3
LARGEST_PLAIN = 1e6


def num(value: Any, digits: int = SIGNIFICANT) -> str:
    """A measured value: 3 significant digits, thousands separators, 1.3e-05 for tiny ones."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    magnitude = abs(x)
    if magnitude < SMALLEST_PLAIN or magnitude >= LARGEST_PLAIN:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{exponent}"
    rounded = float(f"{x:.{digits}g}")
    if abs(rounded) >= 1000:
        return f"{int(round(rounded)):,}"
    text = f"{rounded:.{max(digits - 1 - math.floor(math.log10(abs(rounded))), 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def count(value: Any) -> str:
    """A count of things: every digit, with thousands separators (590,720)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError, OverflowError):
        return str(value)


def plural(n: Any, word: str, many: str | None = None) -> str:
    """'1 error', '2 errors', '1,024 rows'."""
    return f"{count(n)} {word if n == 1 else (many or word + 's')}"


def times(value: Any, digits: int = SIGNIFICANT) -> str:
    """A ratio: '3×', '0.25×', '1.3e-05×'; infinite or undefined ratios in words."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "an undefined factor (NaN)"
    if math.isinf(x):
        return "an unbounded factor (overflow)"
    return f"{num(x, digits)}×"


def percent(fraction: Any, digits: int = 1) -> str:
    """A share as a percentage: '5.1%', '100%', '<0.1%' for a non-zero share that rounds to 0."""
    try:
        x = float(fraction)
    except (TypeError, ValueError):
        return str(fraction)
    if not math.isfinite(x):
        return num(x)
    value = 100 * x
    shown = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    if value != 0 and float(shown) == 0:
        return f"<{10 ** -digits:g}%"
    return f"{shown}%"
