from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.param_status_helpers import names_text, numel


@register
class NoGradient(Rule):
    """Trainable parameters receive no gradient (or an exactly zero one) from the loss.

    What it detects:
        Parameters with requires_grad=True whose `.grad` is still None, or exactly zero
        everywhere, after a backward pass of your loss (000 §1.4: "check whether gradients
        are zero"). In a live run it needs persistence: an all-zero gradient at
        `min_zero_checks` checks and never a non-zero one, and no gradient at all over at
        least `min_steps_without_gradient` steps.

    Why it matters:
        A parameter without gradient never learns: the layer stays at its random
        initialisation while the loss goes down a little through the other layers, so
        nothing crashes and the model is silently worse.

    Likely causes:
        - The layer is defined in `__init__` but never used in `forward` (or its output is discarded).
        - The graph is cut: `.detach()`, `.data`, `.item()`, `.numpy()`, `torch.no_grad()` or an in-place overwrite between the layer and the loss.
        - Its output is multiplied by zero, or only reaches the loss through argmax/round/comparisons, which have no gradient.
        - The loss itself was detached (`torch.tensor(loss.item())`, computed under no_grad).

    Fixes:
        - Check that every module created in `__init__` is called in `forward`; remove unused ones or pass `find_unused_parameters` only if intended.
        - Remove `.detach()` / `.data` / `.item()` between the layer and the loss; return the loss tensor itself.
        - Replace non-differentiable steps (argmax, round) with differentiable ones (softmax, straight-through estimators).
        - Print `[(n, p.grad is None) for n, p in model.named_parameters()]` after `loss.backward()`.

    Example:
        no-gradient: 2 trainable parameters (aux_head.weight, aux_head.bias; 650 values)
        got no gradient from the loss (threshold: every trainable parameter gets one).
    """

    id = "no-gradient"
    title = "trainable parameters get no gradient"
    severity = "warning"
    area = "code"
    requires = ("parameter_status",)
    # A state: a parameter that gets a non-zero gradient later (a branch taken, an expert
    # routed to) contradicts it.
    retractable = True
    optional = ("loss_detached", "steps_observed")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        affected_share_for_error: float = 1.0,  # when every trainable value is cut off, nothing learns: an error
        min_zero_checks: int = 3,  # per-sample SGD: one sample can give an exactly zero gradient (a dead ReLU for it)
        min_steps_without_gradient: int = 2,  # a branch skipped on the first step only is not a cut graph
    ) -> list[Finding]:
        trainable = [p for p in m["parameter_status"] if p.get("trainable")]
        steps = int(m.get("steps_observed") or 0)
        missing = [p for p in trainable if _persistent(p, steps, min_zero_checks, min_steps_without_gradient)]
        if not missing:
            return []
        share = numel(missing) / max(numel(trainable), 1)
        none = [p for p in missing if not p.get("got_grad")]
        zero = [p for p in missing if p.get("got_grad")]
        parts = []
        if none:
            parts.append(f"{len(none)} got no gradient ({names_text(none)})")
        if zero:
            parts.append(f"{len(zero)} got an all-zero gradient ({names_text(zero)})")
        detached = " — the loss itself does not require grad, so it is cut off from the model" if m.get("loss_detached") else ""
        return [self.finding(
            f"Of {len(trainable)} trainable parameters, {' and '.join(parts)}: {percent(share, 0)} of the trainable "
            f"values (threshold: none){detached}.",
            severity="error" if share >= affected_share_for_error else "warning",
            where=[p["name"] for p in missing],
            evidence={"no_gradient": [p["name"] for p in none], "zero_gradient": [p["name"] for p in zero],
                      "affected_values": numel(missing), "trainable_values": numel(trainable),
                      "loss_detached": bool(m.get("loss_detached"))},
        )]


def _persistent(p: Mapping[str, Any], steps: int, min_zero_checks: int, min_steps: int) -> bool:
    """No gradient, with enough evidence. Rows without check counts come from the one-step
    preflight experiment, which is evidence by construction."""
    live = "zero_checks" in p or "nonzero_checks" in p
    if not p.get("got_grad"):
        return not live or steps >= min_steps
    if not p.get("grad_all_zero"):
        return False
    if not live:
        return True
    return int(p.get("nonzero_checks") or 0) == 0 and int(p.get("zero_checks") or 0) >= min_zero_checks
