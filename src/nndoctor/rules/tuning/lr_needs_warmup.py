from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.tuning._lr_text import lr_text


@register
class LrNeedsWarmup(Rule):
    """A learning rate that blows up in its first steps trains when it is warmed up.

    What it detects:
        In the confirming sweep of `nndoctor tune lr`, the best rate, or the first rate
        above the stable range, spiked early: within the first tenth of the budget its
        loss rose above twice its start or stopped being finite. That rate is tried
        again with 003 §4.5.4's warm-up — starting at η0/20 and rising linearly to η0
        over ~10% of an epoch — and this fires when the warmed-up run trains and scores
        better on the held-out batches than the run without.

    Why it matters:
        The first updates from a random initialisation are the least stable: gradients
        are large and the adaptive optimizers' statistics are not yet estimated. A short
        warm-up lets training start at a rate it could not survive at step 0 and then
        make faster progress (003 §4.5.4).

    Likely causes:
        - A large learning rate, a large batch, or Adam's second-moment estimate built from a single step.
        - Layers without normalisation, or residual branches initialised at full scale.

    Fixes:
        - Add a linear warm-up: `scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.05, total_iters=<10% of an epoch>)` and call `scheduler.step()` after each `optimizer.step()`.
        - Or keep the rate at or below the largest one that did not diverge without warm-up.

    Example:
        lr-needs-warmup: lr 0.1 spikes in its first 10 steps without warm-up (held-out
        loss: diverged); warmed up from 0.005 over 3 steps it reaches 0.62.
    """

    id = "lr-needs-warmup"
    title = "learning rate needs a warm-up"
    severity = "info"
    area = "tuning"
    requires = ("lr_range",)

    def check(self, m: Mapping[str, Any]) -> list[Finding]:
        result = m["lr_range"]
        probe = result.get("warmup")
        if not probe or not probe["helps"]:
            return []
        without = probe["held_out_without"]
        without_text = "diverged" if without is None else f"{num(without, 4)}"
        early = max(1, int(0.1 * result["budget_steps"]))
        return [self.finding(
            f"lr {lr_text(probe['lr'])} spikes in its first {early} steps without warm-up (held-out loss: "
            f"{without_text}); warmed up from {lr_text(probe['start_lr'])} over {probe['warmup_steps']} steps "
            f"it reaches {num(probe['held_out_with'], 4)}.",
            evidence=dict(probe, budget_steps=result["budget_steps"]),
            fixes=[f"Warm up: `torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.05, "
                   f"total_iters={probe['warmup_steps']})`, stepped after each optimizer.step() "
                   "(003 §4.5.4: η0/20 → η0 over ~10% of an epoch).", *self.doc().fixes[1:]],
        )]
