from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class NoUsableLrValley(Rule):
    """No learning rate makes the model learn: the range test has no valley and no rate of the sweep lowers the held-out loss.

    What it detects:
        `nndoctor tune lr` raises the learning rate exponentially over ~100 steps on a copy
        (repeated over batch orders) and looks for a valley: a smoothed loss that falls at
        least 5% below its start before it blows up. Without a valley it sweeps 003
        §4.5.4's grid 10^{-5, -4.5, …, 0} instead. This fires when neither finds a rate at
        which the held-out loss ends at least 5% below where it started without diverging.

    Why it matters:
        A model that learns at no learning rate is not a tuning problem: something between
        data, model, loss and optimizer is disconnected, and no schedule will fix it.
        Reporting a "suggested lr" from such a curve (as LR finders do) sends you tuning
        the wrong thing.

    Likely causes:
        - Gradients that never reach the parameters (`.detach()`, frozen layers, parameters missing from the optimizer).
        - Labels that do not depend on the inputs (shuffled separately, wrong column), or a loss that does not fit the task.
        - A model that needs far more steps than the budget to move (very deep without normalisation, tiny init).

    Fixes:
        - Run `nndoctor run --preflight train.py` (or `nndoctor.preflight`) first: cannot-overfit-batch, no-gradient and params-not-updated name the broken part.
        - Check that one batch can be memorised with Adam 1e-3 before tuning anything (000 §1.4, 003 §4.5.3).
        - If the model is only slow, rerun with a larger budget: `nndoctor tune lr --budget 500 train.py`.

    Example:
        no-usable-lr-valley: the range test found no valley (the smoothed loss never fell
        more than 0.4% below its start 2.303; a usable valley falls ≥ 5%) and no rate of
        the sweep 1e-5 … 1 lowered the held-out loss 5% below its start 2.303 in 100 steps
        without diverging.
    """

    id = "no-usable-lr-valley"
    title = "no learning rate makes the model learn"
    severity = "warning"
    area = "tuning"
    requires = ("lr_range",)

    def check(self, m: Mapping[str, Any]) -> list[Finding]:
        result = m["lr_range"]
        if result["confirmed_lr"] is not None:
            return []
        sweep_note = result.get("sweep_failure")
        if result["refusal"] is None and sweep_note is None:
            return []  # the sweep was not run (confirm=False): the valley alone is no verdict
        parts = []
        if result["refusal"] is not None:
            parts.append(f"the range test found no valley ({result['refusal']})")
        if sweep_note is not None:
            parts.append(sweep_note)
        return [self.finding(
            " and ".join(parts)[0].upper() + " and ".join(parts)[1:] + ".",
            evidence={"refusal": result["refusal"], "sweep_failure": sweep_note,
                      "suggestions": result["suggestions"], "budget_steps": result["budget_steps"],
                      "initial_held_out_loss": result["initial_held_out_loss"],
                      "sweep": [{"lr": p["lr"], "held_out_loss": p["held_out_loss"]} for p in result["sweep"]],
                      "user_lr": result["user_lr"]},
        )]
