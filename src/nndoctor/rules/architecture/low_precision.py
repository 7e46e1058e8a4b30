from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

LOW = ("float16", "bfloat16")


@register
class LowPrecision(Rule):
    """The model computes in half precision (float16/bfloat16) while it is being debugged.

    What it detects:
        Parameters stored as float16 or bfloat16 (a warning: updates smaller than the
        format's resolution are lost), or autocast mixed precision switched on around or
        inside the forward pass (a note: the usual recipe, but not while debugging).

    Why it matters:
        Low-precision formats overflow, underflow and round in ways that look exactly like
        modeling bugs: a loss that stalls, turns NaN or diverges. To rule them out, debug
        in float32 and switch to mixed precision only once training works (003 §4.5.2,
        §4.5.3 #1; 000 §1.1.4).

    Likely causes:
        - `model.half()` / `model.to(torch.bfloat16)` to save memory or time.
        - `torch.autocast(...)` (automatic mixed precision) left on while hunting a bug.

    Fixes:
        - Debug in float32: `model.float()` and float32 inputs.
        - Remove `torch.autocast(...)` / `GradScaler` while debugging; add them back once training works.
        - When you return to low precision, keep float32 master weights (autocast) rather than `.half()` parameters.

    Example:
        low-precision: 100% of the parameters (12,418 values) are float16 (threshold:
        more than 0%); debug in float32.
    """

    id = "low-precision"
    title = "half precision while debugging"
    severity = "warning"
    area = "architecture"
    requires = ("parameter_dtypes",)
    optional = ('autocast_active',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        low_precision_fraction_max: float = 0.0,  # debug entirely in fp32 (003 §4.5.3 #1)
    ) -> list[Finding]:
        counts = m["parameter_dtypes"]["numel_by_dtype"]
        total = sum(counts.values())
        low = {dtype: n for dtype, n in counts.items() if dtype in LOW}
        fraction = sum(low.values()) / total if total else 0.0
        findings = []
        if fraction > low_precision_fraction_max:
            findings.append(self.finding(
                f"{percent(fraction, 0)} of the parameters ({count(sum(low.values()))} values) are "
                f"{' and '.join(sorted(low))} (threshold: more than {percent(low_precision_fraction_max, 0)}); "
                "debug in float32.",
                where=m["parameter_dtypes"]["low_precision_names"][:8] or None,
                evidence={"numel_by_dtype": counts, "low_precision_fraction": fraction},
            ))
        autocast = list(m.get("autocast_active") or [])
        if autocast:
            findings.append(self.finding(
                f"autocast mixed precision is on ({', '.join(autocast)}) during the forward pass; "
                "while debugging run in float32 (threshold: any autocast).",
                severity="info",
                evidence={"autocast": autocast, "numel_by_dtype": counts},
                fixes=self.doc().fixes[1:] + self.doc().fixes[:1],
            ))
        return findings
