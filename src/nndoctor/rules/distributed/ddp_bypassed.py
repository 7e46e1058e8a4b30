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
class DDPBypassed(Rule):
    """Training steps run their forward on the module inside DistributedDataParallel, not on the wrapper.

    What it detects:
        Optimizer steps whose last training forward (gradients enabled, followed by a
        backward) called the wrapped module directly — `ddp_model.module(x)`, or the
        original `model(x)` object that was wrapped — instead of `ddp_model(x)`. Forward
        hooks on the wrapper and on its inner module tell the two apart. Evaluation
        forwards with gradients disabled are not counted.

    Why it matters:
        DistributedDataParallel arms its gradient all-reduce in its own forward. A forward
        that goes around the wrapper computes gradients on this rank's batch only: the
        following step applies an un-averaged, rank-local gradient, the replicas drift apart
        and the effective batch is one rank's, with no error and a normal-looking loss.

    Likely causes:
        - The training loop keeps using the model variable it had before wrapping (`model = Net(); ddp = DDP(model); ... model(x)`).
        - `ddp_model.module(x)` used to reach the inner model's forward (often copied from code that calls `.module` for saving).
        - A helper that unwraps the model (`getattr(model, "module", model)`) called in the training step.

    Fixes:
        - Call the wrapper for every training forward: `ddp_model = DDP(model); out = ddp_model(x)`; rebind `model = DDP(model)` so the bare object is not used by mistake.
        - Use `ddp_model.module` only for saving, loading and evaluation under `torch.no_grad()`.

    Example:
        ddp-bypassed: on all 2 ranks: 10 of 20 training steps ran their forward on the
        module inside DistributedDataParallel instead of the wrapper, first at step 1
        (threshold 1 step); DDP averaged no gradient in those steps.
    """

    id = "ddp-bypassed"
    title = "forward bypassed the DDP wrapper"
    severity = "error"
    area = "distributed"
    requires = ("ddp_wrappers", "world_size")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_bypassed_steps: int = 1,  # every such step applies an un-averaged gradient: one is already a bug
    ) -> list[Finding]:
        findings = []
        for label, ranks, worst, first in wrappers_over(m, "bypassed_steps", "bypassed_step_list", min_bypassed_steps):
            at = f", first at step {count(first)}" if first is not None else ""
            findings.append(self.finding(
                f"{ranks_phrase(ranks, m['world_size']).capitalize()}: {count(worst['bypassed_steps'])} of "
                f"{count(worst['training_steps'])} training steps ran their forward on the module inside {label} "
                f"(`.module` or the original model) instead of the wrapper{at} (threshold "
                f"{count(min_bypassed_steps)} step); DDP averaged no gradient in those steps, so each rank applied "
                "its own.",
                step=first, where=label,
                evidence={"ranks": ranks, "bypassed_steps": worst["bypassed_steps"],
                          "training_steps": worst["training_steps"], "bypassed_forwards": worst["bypassed_forwards"],
                          "wrapped_forwards": worst["wrapped_forwards"], "threshold": min_bypassed_steps},
            ))
        return findings
