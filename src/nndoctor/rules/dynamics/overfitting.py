from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, median, recent_values, rounded, smoothed_history


def train_loss_near(series: Mapping[str, Any], step: int) -> float | None:
    """The smoothed training loss around `step`."""
    for first, last, value in smoothed_history(series):
        if first <= step <= last or first > step:
            return value
    return None


@register
class Overfitting(Rule):
    """Validation loss rises while the training loss keeps falling.

    What it detects:
        The validation losses the run computed or logged: after its lowest point, the
        last `patience_evals` evaluations are all above that minimum by at least
        `rise_fraction` of it, while the training loss went on falling below its level at
        that point (003 §4.1: low training error, rising validation error).

    Why it matters:
        From the validation minimum on, more training makes the model worse on new data:
        it is memorising the training samples (000 §3.1). The checkpoint worth keeping is
        the one at the minimum.

    Likely causes:
        - Too little data for the model's capacity.
        - Too little regularisation, or training for too many epochs.
        - A validation set that differs from the training data (then it is a shift, not overfitting; 000 §3.1).

    Fixes:
        - Early stopping: keep the checkpoint with the lowest validation loss (003 §4.1).
        - Add regularisation: weight decay (`torch.optim.AdamW(..., weight_decay=0.01)`), `nn.Dropout`, data augmentation.
        - Get more data, or use a smaller model / fine-tune a pretrained one (003 §4.6).

    Example:
        overfitting: validation loss rose to 0.61 from its minimum 0.42 at step 1200 (+45%;
        threshold +10%) while the training loss fell from 0.35 to 0.08.
    """

    id = "overfitting"
    title = "Overfitting"
    severity = "warning"
    area = "dynamics"
    requires = ("eval_loss_series", "loss_series")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        rise_fraction: float = 0.1,  # 10 % above the minimum: beyond the evaluation noise of a reasonable validation set
        patience_evals: int = 3,  # consecutive evaluations above it, as early stopping's patience
    ) -> list[Finding]:
        evals = all_points(m["eval_loss_series"])
        if len(evals) < patience_evals + 1:
            return []
        best_index = min(range(len(evals)), key=lambda i: evals[i][1])
        best_step, best = evals[best_index]
        after = evals[best_index + 1:]
        limit = best + rise_fraction * abs(best)
        tail = after[-patience_evals:]
        if len(tail) < patience_evals or any(value < limit for _, value in tail):
            return []
        train_then = train_loss_near(m["loss_series"], best_step)
        train_now = median(recent_values(m["loss_series"], 100))
        if train_then is None or not train_now < train_then:
            return []  # training loss not falling: not the overfitting pattern
        first = next(step for step, value in after if value >= limit)
        latest = tail[-1][1]
        rise = f"{(latest - best) / abs(best):+.0%}" if best else "up from exactly 0"
        return [self.finding(
            f"validation loss rose to {num(latest)} from its minimum {num(best)} at step {best_step} "
            f"({rise}; threshold +{percent(rise_fraction, 0)}) while the "
            f"training loss fell from {num(train_then)} to {num(train_now)}.",
            step=first,
            evidence={"best_eval_loss": rounded(best), "best_eval_step": best_step,
                      "latest_eval_loss": rounded(latest), "train_loss_at_best": rounded(train_then),
                      "train_loss_now": rounded(train_now), "evaluations": len(evals)},
        )]
