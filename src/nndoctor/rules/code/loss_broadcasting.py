from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.loss_call_helpers import first_per_site, loss_name


@register
class LossBroadcasting(Rule):
    """Prediction and target shapes differ but broadcast, so the loss compares every prediction with every target.

    What it detects:
        An element-wise loss (MSE, L1, smooth L1, Huber, BCE, BCE-with-logits, KL) whose
        prediction and target have different shapes that broadcast to a larger tensor —
        the classic (N, 1) prediction against an (N,) target, which becomes N × N.

    Why it matters:
        Broadcasting makes the loss the average error between each prediction and *all*
        targets. The model converges to predicting the mean target for everything, the
        loss plateaus, and no error is raised (000 §1.4: shape mismatches that do not
        crash still compute the wrong thing).

    Likely causes:
        - The model's last layer is nn.Linear(hidden, 1) (output (N, 1)) while the targets are a flat (N,) vector.
        - Targets were loaded with an extra dimension, or .squeeze() removed a dimension from only one side.

    Fixes:
        - Make the shapes equal before the loss: `loss_fn(pred.squeeze(-1), target)` or `loss_fn(pred, target.view(-1, 1))`.
        - Add `assert pred.shape == target.shape` in the training step while debugging.

    Example:
        loss-broadcasting: MSELoss / F.mse_loss at train.py:42 compares prediction
        (64, 1) with target (64,): they broadcast to (64, 64), 64× more elements.
    """

    id = "loss-broadcasting"
    title = "prediction/target shapes broadcast in the loss"
    severity = "error"
    area = "code"
    requires = ("loss_calls",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        expansion_factor_min: float = 2.0,  # any real broadcast at least doubles the elements
    ) -> list[Finding]:
        findings = []
        for call in first_per_site(m["loss_calls"]):
            broadcast = call.get("broadcast_shape")
            if broadcast is None or call.get("target_shape") is None:
                continue
            larger = max(math.prod(call["input_shape"]), math.prod(call["target_shape"]), 1)
            factor = math.prod(broadcast) / larger
            if factor < expansion_factor_min:
                continue
            findings.append(
                self.finding(
                    f"{loss_name(call['loss'])} at {call['where']} compares prediction "
                    f"{tuple(call['input_shape'])} with target {tuple(call['target_shape'])}: they "
                    f"broadcast to {tuple(broadcast)}, {times(factor)} more elements "
                    f"(threshold {times(expansion_factor_min)}).",
                    where=call["where"],
                    step=call.get("step"),
                    evidence={"loss": call["loss"], "input_shape": call["input_shape"],
                              "target_shape": call["target_shape"],
                              "broadcast_shape": broadcast, "expansion_factor": factor},
                )
            )
        return findings
