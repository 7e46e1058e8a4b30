from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, head_values, median, recent_values, rounded


@register
class EvalWorseThanUntrained(Rule):
    """The model does worse on the validation data than before it was trained, while it
    learns the training data.

    What it detects:
        Every validation loss after training began is at least `worse_factor` × the loss
        the untrained model had on its first training batches, while the training loss
        has fallen below `trained_share` of that start. Ordinary overfitting first gets
        better on validation data and only later worse; here the model is worse from the
        first evaluation on — what differs is how it is evaluated, not what it learned.

    Why it matters:
        The training curves look perfect and every validation number is useless. The
        usual culprit is a layer that behaves differently in evaluation mode: BatchNorm
        normalises with running statistics that lag the weights by about 1 / (1 − momentum)
        updates (100 with Flax's momentum 0.99, 10 with torch's 0.1); on a short run or a
        small dataset they still describe the untrained network (003 §4.5.3: train and test
        must go through the same pipeline).

    Likely causes:
        - BatchNorm running statistics that have not caught up: few updates per epoch with a high momentum.
        - Validation data preprocessed differently from the training data (not normalised, other scale or channel order).
        - The validation loss summed over the batch (`reduction="sum"`) while the training loss is averaged.
        - Validation labels misaligned with their inputs.

    Fixes:
        - Evaluate once in training mode (BatchNorm on batch statistics): if the loss drops to the training level, the running statistics are the cause.
        - Lower BatchNorm's momentum (Flax `nn.BatchNorm(momentum=0.9)`, torch `nn.BatchNorm2d(momentum=0.3)`), train for more updates, or recompute the statistics on training batches before evaluating.
        - Run the validation inputs through exactly the training preprocessing, and compute both losses the same way.

    Example:
        eval-worse-than-untrained: every validation loss after training began (3, the latest 29.5) is
        at least 2× the untrained model's loss 2.31, while the training loss fell to 0.0007.
    """

    id = "eval-worse-than-untrained"
    title = "Validation worse than untrained"
    severity = "warning"
    area = "dynamics"
    requires = ("eval_loss_series", "loss_series")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        worse_factor: float = 2.0,  # twice the untrained loss: far beyond validation noise or mild overfitting
        trained_share: float = 0.25,  # the training loss fell to a quarter of its start: the model did learn
        start_points: int = 5,  # the untrained loss: the median of the first training losses
    ) -> list[Finding]:
        first = head_values(m["loss_series"], start_points)
        if len(first) < start_points:
            return []
        untrained = median(first)
        train_now = median(recent_values(m["loss_series"], 20))
        if not untrained > 0 or not train_now < trained_share * untrained:
            return []
        start_step = int(m["loss_series"]["head"][0][0])
        evals = [(step, value) for step, value in all_points(m["eval_loss_series"]) if step > start_step]
        if not evals or any(value < worse_factor * untrained for _, value in evals):
            return []
        latest = evals[-1][1]
        return [self.finding(
            f"every validation loss after training began ({len(evals)}, the latest {num(latest)}) is at least "
            f"{num(worse_factor)}× the untrained model's loss {num(untrained)} (threshold {num(worse_factor)}×), "
            f"while the training loss fell to {num(train_now)}: the model is evaluated differently from how it "
            "is trained.",
            step=evals[0][0],
            evidence={"untrained_loss": rounded(untrained), "train_loss_now": rounded(train_now),
                      "first_eval_loss": rounded(evals[0][1]), "latest_eval_loss": rounded(latest),
                      "evaluations": len(evals)},
        )]
