from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class StepBeforeBackward(Rule):
    """`optimizer.step()` runs before `loss.backward()` in the training iteration.

    What it detects:
        Training backward passes whose model's optimizer stepped after that model's forward
        and before the backward: `out = model(x); optimizer.step(); loss.backward()`
        (measured as `step_order`). It fires when at least `min_iterations` iterations and
        at least `min_share` of all observed iterations have that order, so one unusual
        iteration does not decide.

    Why it matters:
        The update then uses whatever gradient is in `.grad` before this iteration's
        backward: nothing at all when `zero_grad()` ran first (the parameters never
        change), or the previous iteration's gradient (every step is one batch stale and
        the newest gradient is thrown away by the next `zero_grad()`). Training may still
        appear to learn a little, which hides the bug (000 §1.4: check that the training
        loop is wired correctly).

    Likely causes:
        - The three calls written in the wrong order: `optimizer.step()` above `loss.backward()`.
        - A refactor that moved `optimizer.step()` into a helper called before the backward.
        - `optimizer.zero_grad()` and `optimizer.step()` swapped, or `scheduler.step()` mistaken for `optimizer.step()`.

    Fixes:
        - Use the order `optimizer.zero_grad(); loss = criterion(model(x), y); loss.backward(); optimizer.step()`.
        - With gradient accumulation, call `optimizer.step()` only after the last micro-batch's `backward()`.

    Example:
        step-before-backward: in 120 of 120 iterations Adam stepped after the forward of Net
        and before its backward (threshold 2 iterations and 50%); the step found no
        gradient, so nothing was updated.
    """

    id = "step-before-backward"
    title = "optimizer step before backward"
    severity = "error"
    area = "code"
    requires = ("step_order",)
    # Not retractable: the order is a property of the loop's code, and the stale updates happened.

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_iterations: int = 2,  # the second iteration proves the order is the loop's, not a one-off warm-up call
        min_share: float = 0.5,  # a loop written in the wrong order does it every iteration; a stray call does not
    ) -> list[Finding]:
        order = m["step_order"]
        iterations = int(order.get("iterations") or 0)
        wrong = int(order.get("update_between_forward_and_backward") or 0)
        if iterations == 0 or wrong < min_iterations or wrong / iterations < min_share:
            return []
        optimizers = list(order.get("optimizers") or [])
        optimizer = " and ".join(optimizers) if optimizers else "the optimizer"
        if order.get("grad_none_at_first_steps"):
            consequence = "the step found no gradient (cleared by zero_grad), so nothing was updated"
        else:
            consequence = "each step used the previous iteration's gradient, one batch stale"
        return [self.finding(
            f"in {count(wrong)} of {count(iterations)} iterations {optimizer} stepped after the forward pass and before "
            f"loss.backward() (threshold {min_iterations} iterations and {percent(min_share, 0)}); {consequence}.",
            step=order.get("first_step"),
            where=optimizers or None,
            evidence={"iterations": iterations, "step_before_backward": wrong, "share": wrong / iterations,
                      "optimizers": optimizers, "grad_none_at_first_steps": bool(order.get("grad_none_at_first_steps"))},
        )]
