from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.ranks import ranks_phrase
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.distributed._wrappers import wrappers_over


@register
class GradSyncSkipped(Rule):
    """Optimizer steps taken without any backward that synchronised gradients across ranks.

    What it detects:
        Optimizer steps over a DistributedDataParallel model where every training forward
        since the previous step ran inside `no_sync()` (DDP's `require_backward_grad_sync`
        was off when the forward ran, which is when DDP decides whether the next backward
        all-reduces). Gradient accumulation done right has its last micro-batch outside
        `no_sync()` and is not counted.

    Why it matters:
        `no_sync()` saves communication during accumulation: the gradients are averaged
        once, by the last backward before the step. When no backward synchronises, each
        rank steps with its own local gradient — the replicas drift apart while the loss on
        rank 0 looks normal, and the effective batch is one rank's.

    Likely causes:
        - The whole accumulation loop, last micro-batch included, sits inside `with model.no_sync():`.
        - A condition meant to leave `no_sync()` on the last micro-batch never holds (an off-by-one in `(i + 1) % accumulation_steps`).
        - Gradients are meant to be all-reduced by hand after `no_sync()` and that call is missing or never reached.

    Fixes:
        - Run the last micro-batch before each step outside `no_sync()`: `ctx = model.no_sync() if (i + 1) % k else contextlib.nullcontext()`.
        - Or all-reduce the gradients yourself before `optimizer.step()` (`torch.distributed.all_reduce(p.grad); p.grad /= world_size`).

    Example:
        grad-sync-skipped: on all 2 ranks: 20 of 20 optimizer steps followed only
        backwards inside no_sync(), first at step 0 (threshold 1 step): no gradient was
        averaged across ranks before them.
    """

    id = "grad-sync-skipped"
    title = "steps without gradient synchronisation"
    severity = "warning"
    area = "distributed"
    requires = ("ddp_wrappers", "world_size")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_unsynced_steps: int = 1,  # a step on un-averaged gradients desynchronises the replicas at once
    ) -> list[Finding]:
        findings = []
        for label, ranks, worst, first in wrappers_over(m, "unsynced_steps", "unsynced_step_list", min_unsynced_steps):
            at = f", first at step {count(first)}" if first is not None else ""
            findings.append(self.finding(
                f"{ranks_phrase(ranks, m['world_size']).capitalize()}: {count(worst['unsynced_steps'])} of "
                f"{count(worst['training_steps'])} optimizer steps of {label} followed only forwards and backwards "
                f"inside no_sync(){at} (threshold {count(min_unsynced_steps)} step): no gradient was averaged across "
                "ranks before them, unless the script all-reduces gradients itself.",
                step=first, where=label,
                evidence={"ranks": ranks, "unsynced_steps": worst["unsynced_steps"],
                          "training_steps": worst["training_steps"], "no_sync_forwards": worst["no_sync_forwards"],
                          "threshold": min_unsynced_steps},
            ))
        return findings
