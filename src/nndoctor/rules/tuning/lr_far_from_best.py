from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.tuning._lr_text import lr_text


@register
class LrFarFromBest(Rule):
    """Your learning rate is far from the best one measured, and it costs held-out loss.

    What it detects:
        `nndoctor tune lr` trains copies from your initial weights at the rates of 003
        §4.5.4's 10^0.5 grid around the range test's suggestion, and at your own rate, for
        the same budget, and scores each on held-out batches. This fires when your rate
        is more than a factor (10×) away from the best and recovers clearly less of the
        loss drop than the best rate does — or diverges.

    Why it matters:
        The learning rate is the most important hyperparameter (003 §4.5.4, [Ben12]): too
        high and training diverges or bounces, too low and it needs many times the steps.
        A factor of 10 off costs more than most architecture changes gain.

    Likely causes:
        - A learning rate copied from a setup with another optimizer (SGD rates are ~10–100× Adam's) or another batch size.
        - A scheduler whose base lr differs from what you think (warm-up start, a decay applied too early).
        - Per-group rates (a backbone at lr/10) whose first group is the one being set.

    Fixes:
        - Set the measured rate: `optimizer = torch.optim.AdamW(model.parameters(), lr=<confirmed_lr>)`.
        - For a long run, start at the largest rate that did not diverge and decay it 10× at each plateau (003 §4.5.4).
        - Re-measure after changing the batch size or the optimizer: the best rate moves with both.

    Example:
        lr-far-from-best: your lr 1e-5 is 100× below the best measured 1e-3; after 100
        steps its held-out loss is 2.21 against 0.84 at the best (it recovers 7% of the
        best's drop from 2.30, threshold 75%). Use lr=1e-3.
    """

    id = "lr-far-from-best"
    title = "learning rate far from the measured best"
    severity = "warning"
    area = "tuning"
    requires = ("lr_range",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        ratio_max: float = 10.0,  # one decade: inside it, the held-out loss of short sweeps is flat within noise
        recovered_share_min: float = 0.75,  # your rate must reach 3/4 of the best's loss drop to be "good enough"
    ) -> list[Finding]:
        result = m["lr_range"]
        best, user = result["confirmed_lr"], result["user_lr"]
        if best is None or not user or user <= 0 or result["best_held_out_loss"] is None:
            return []
        ratio = max(user / best, best / user)
        if ratio <= ratio_max:
            return []
        start, best_loss, user_loss = result["initial_held_out_loss"], result["best_held_out_loss"], result["user_held_out_loss"]
        drop = start - best_loss
        direction = "above" if user > best else "below"
        evidence = {"user_lr": user, "confirmed_lr": best, "ratio": ratio, "ratio_max": ratio_max,
                    "user_held_out_loss": user_loss, "best_held_out_loss": best_loss,
                    "initial_held_out_loss": start, "budget_steps": result["budget_steps"],
                    "largest_stable_lr": result["largest_stable_lr"]}
        head = f"Your lr {lr_text(user)} is {ratio:.0f}× {direction} the best measured {lr_text(best)}"
        if user_loss is None or not math.isfinite(user_loss):
            return [self.finding(f"{head}; at your rate training diverged within {result['budget_steps']} steps. "
                                 f"Use lr={lr_text(best)}.", evidence=evidence)]
        if drop <= 0:
            return []
        recovered = (start - user_loss) / drop
        evidence["recovered_share"] = recovered
        if recovered >= recovered_share_min:
            return []
        return [self.finding(
            f"{head}; after {result['budget_steps']} steps its held-out loss is {num(user_loss, 4)} against "
            f"{num(best_loss, 4)} at the best (it recovers {percent(max(recovered, 0), 0)} of the best's drop from {num(start, 4)}, "
            f"threshold {percent(recovered_share_min, 0)}). Use lr={lr_text(best)}.",
            evidence=evidence,
        )]
