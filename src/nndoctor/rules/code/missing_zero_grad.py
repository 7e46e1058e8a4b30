from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class MissingZeroGrad(Rule):
    """An update used gradients that were added onto gradients a previous update had already used.

    What it detects:
        A backward pass that adds its gradients onto `param.grad` tensors an earlier
        optimizer step (or manual update) already consumed, followed by an update that
        uses the sum. Measured as `stale_grad_updates`: for a sample of parameters, the
        gradient tensor consumed by an update is still the same object, unchanged and
        nonzero, when the next backward starts — nothing reset it.

    Why it matters:
        PyTorch accumulates gradients: every `backward()` adds onto `.grad` (002 #3), so
        that a tensor used in several places gets the sum of its gradients. Without
        `zero_grad()` between steps, step k uses the sum of the gradients of all steps
        so far: updates grow, point in stale directions and training drifts or diverges
        without any error.

    Likely causes:
        - `optimizer.zero_grad()` is missing from the training loop, or sits outside it.
        - `zero_grad()` is called on a different optimizer or model than the one stepped.
        - Manual SGD (`p.data.add_(-lr * p.grad)`) without resetting `p.grad` afterwards.

    Fixes:
        - Call `optimizer.zero_grad()` once per update, before `loss.backward()` (or right after `optimizer.step()`).
        - For manual updates, call `model.zero_grad()` (or `p.grad = None`) after updating the parameters.
        - Accumulating on purpose over micro-batches? Then step and zero once every N backwards, as usual — that is not reported.

    Example:
        missing-zero-grad: at update 1 (SGD) 8 of 8 sampled parameters (fc1.weight, …)
        used gradients accumulated onto the previous update's gradients (threshold 1 update).
    """

    id = "missing-zero-grad"
    title = "gradients not reset between updates"
    severity = "error"
    area = "code"
    requires = ("stale_grad_updates",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_stale_updates: int = 1,  # every stale update corrupts that step; one is evidence (002 #3)
    ) -> list[Finding]:
        events = m["stale_grad_updates"]
        # The list is bounded; its last record carries the running count.
        seen = events[-1].get("seen_updates", len(events)) if events else 0
        if not events or seen < min_stale_updates:
            return []
        first = events[0]
        names = first["stale_params"]
        shown = ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
        return [
            self.finding(
                f"At update {first['step']} ({first['update']}) {len(names)} of "
                f"{first['checked_params']} sampled parameters ({shown}) used gradients added "
                f"onto the previous update's gradients; seen at {seen} update(s) "
                f"(threshold {min_stale_updates}).",
                step=first["step"],
                where=first["update"],
                evidence={
                    "stale_updates": seen,
                    "first_update": first["step"],
                    "update_kind": first["update"],
                    "stale_params": names,
                    "checked_params": first["checked_params"],
                },
            )
        ]
