from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class WeightDecayOnWrongParams(Rule):
    """Weight decay reaches only biases and normalisation scales while the weight matrices get none.

    What it detects:
        The optimizer's param groups as `nndoctor tune weight-decay` reads them: some
        group has weight_decay > 0, but every group holding weight matrices (dim ≥ 2:
        linear, convolution and embedding weights) has weight_decay = 0.

    Why it matters:
        Decay regularises by shrinking the weights that carry the model's capacity — the
        matrices. On biases and normalisation scales it does little good (and can hurt),
        so a swapped pair of groups means no regularisation at all, and a sweep of the
        value (003 §4.5.4: 10^{-6 … -3}) changes nothing.

    Likely causes:
        - The "no decay for biases and norms" recipe with its two groups swapped.
        - A name filter (`"bias" in name`, `"norm" in name`) that matches the wrong parameters.

    Fixes:
        - Put the matrices in the decayed group: `decay = [p for p in model.parameters() if p.dim() >= 2]`, `no_decay = [p for p in model.parameters() if p.dim() < 2]`, then `AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}])`.
        - Print `[(len(g["params"]), g["weight_decay"]) for g in optimizer.param_groups]` to check.

    Example:
        weight-decay-on-wrong-params: weight_decay 0.1 is set only on group 1 (3 vectors,
        132 parameters); the 3 weight matrices (5632 parameters) in group 0 get none.
    """

    id = "weight-decay-on-wrong-params"
    title = "weight decay on the wrong parameters"
    severity = "warning"
    area = "tuning"
    requires = ("weight_decay",)

    def check(self, m: Mapping[str, Any]) -> list[Finding]:
        groups = m["weight_decay"]["groups"]
        decayed = [g for g in groups if g["weight_decay"] > 0]
        with_matrices = [g for g in groups if g["matrices"] > 0]
        if not decayed or not with_matrices or any(g["weight_decay"] > 0 for g in with_matrices):
            return []
        values = sorted({g["weight_decay"] for g in decayed})
        names = ", ".join(f"group {g['index']} ({g['vectors']} vectors, {g['parameters']} parameters)" for g in decayed)
        matrices = sum(g["matrices"] for g in with_matrices)
        size = sum(g["parameters"] for g in with_matrices)
        where = ", ".join(str(g["index"]) for g in with_matrices)
        return [self.finding(
            f"Weight decay {', '.join(f'{num(v)}' for v in values)} is set only on {names}; the {matrices} weight "
            f"matrices ({size} parameters) in group {where} get none.",
            where=[f"param_groups[{g['index']}]" for g in with_matrices],
            evidence={"groups": groups},
        )]
