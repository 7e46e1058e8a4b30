from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class AccumulationNotAveraged(Rule):
    """Gradients of several micro-batches are summed, not averaged, before each optimizer step.

    What it detects:
        Optimizer steps preceded by k ≥ 2 `backward()` calls, each on the un-scaled value
        of a mean-reduced loss computed after its own forward (measured as `accumulation`),
        so the gradient at the step is the sum of k micro-batch gradients: about k× one
        micro-batch's when they agree (the measured ratio of the gradient norm at the step
        to that after the first backward shows it). Steps whose backward tensor was scaled
        (`loss / k`, as Lightning, accelerate and the Hugging Face Trainer do) count as
        averaged. A warning for SGD-like optimizers, a note for adaptive ones.

    Why it matters:
        Accumulating k micro-batches is meant to imitate one batch k times larger, whose
        mean loss has the micro-batches' average gradient. Summed instead, plain SGD (with
        or without momentum) takes steps k× too large: the effective learning rate is k×
        what you tuned, which can make training unstable or diverge (003 §4.3: the lr is
        the most sensitive hyperparameter). Adam, RMSprop and Adagrad divide by the
        gradient's running magnitude, so they are nearly invariant to the scale; only ε,
        gradient clipping thresholds and coupled L2 weight decay see the difference.

    Likely causes:
        - `loss.backward()` inside the accumulation loop without dividing by the number of accumulation steps.
        - A custom trainer that copied the accumulation loop but not the `loss = loss / accumulation_steps` line.

    Fixes:
        - Divide before the backward: `(loss / accumulation_steps).backward()`.
        - Or keep the sum deliberately and divide the learning rate by the accumulation steps.
        - With Adam the scale barely matters; still average so that `clip_grad_norm_` thresholds mean what they say.

    Example:
        accumulation-not-averaged: 50 of 50 SGD steps summed the gradients of 4 micro-batches
        without averaging (threshold 3 steps); the gradient at the step was 3.9× that of one
        micro-batch, so the effective learning rate is about 4× the one set.
    """

    id = "accumulation-not-averaged"
    title = "accumulated gradients not averaged"
    severity = "warning"
    area = "code"
    requires = ("accumulation",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_unaveraged_steps: int = 3,  # a loop that forgets to divide does it every step; a few steps rule out a one-off
        min_gradient_ratio: float = 1.2,  # micro-batch gradients that cancel (ratio ≈ 1) do not enlarge the step
    ) -> list[Finding]:
        record = m["accumulation"]
        unaveraged = int(record.get("unaveraged_steps") or 0)
        k = int(record.get("backwards_per_step") or 1)
        several = max(int(record.get("steps_with_several_backwards") or 0), unaveraged)
        if k < 2 or unaveraged < min_unaveraged_steps or unaveraged < int(record.get("averaged_steps") or 0):
            return []
        if record.get("same_loss") is False:
            return []  # different losses summed in one step (multi-task, two domains) is a legitimate total loss
        first, at_step = record.get("grad_norm_first_backward"), record.get("grad_norm_at_step")
        ratio = at_step / first if first and at_step is not None and first > 0 else None
        if ratio is not None and ratio < min_gradient_ratio:
            return []
        optimizer = record.get("optimizer") or "the optimizer"
        grew = (f"; the gradient at the step was {num(ratio, 2)}× that of one micro-batch (threshold "
                f"{num(min_gradient_ratio)}×)" if ratio is not None else "")
        head = (f"{count(unaveraged)} of {count(several)} {optimizer} steps summed the gradients of {k} micro-batches without "
                f"averaging (threshold {min_unaveraged_steps} steps){grew}")
        evidence = {"unaveraged_steps": unaveraged, "steps_with_several_backwards": several,
                    "backwards_per_step": k, "gradient_ratio": ratio, "optimizer": optimizer,
                    "adaptive": bool(record.get("adaptive"))}
        fixes = self.doc().fixes
        if record.get("adaptive"):
            return [self.finding(
                f"{head}. {optimizer} is adaptive, so it is nearly invariant to this {k}× gradient scale: the update "
                "barely changes, but gradient-clipping thresholds and coupled weight decay act on the summed scale.",
                severity="info", step=record.get("first_step"), evidence=evidence,
                fixes=[fixes[2], fixes[0]],
            )]
        return [self.finding(
            f"{head}, so the effective learning rate is about {k}× the one set; divide each loss by {k}.",
            step=record.get("first_step"), evidence=evidence,
        )]
