from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class OptimizerNotOnModel(Rule):
    """An optimizer steps, but the model that gets the gradients belongs to no optimizer.

    What it detects:
        Optimizer steps while a watched model whose parameters receive gradients has none
        of its parameter tensors in any optimizer and is not updated by hand (no in-place
        `p -= lr * p.grad` was seen). Measured as `optimizer_coverage`. An error when no
        model with gradients is covered at all (the optimizer updates something else
        entirely); a warning when another model is trained, since the uncovered one may
        be an auxiliary network that only needs `requires_grad_(False)`.

    Why it matters:
        The model never changes: every step costs a forward and a backward and the loss
        stays where it started, with no error. Because no update of that model is ever
        attempted, the check that compares parameters before and after a step has nothing
        to compare (000 §1.4: parameters left out of the update).

    Likely causes:
        - The optimizer was built over a different object: a stale copy (`copy.deepcopy(model)`), a model that was rebuilt or reloaded afterwards, or the parameters before a wrapper (FSDP, `torch.compile`, a `.to()` that replaced them) swapped them out.
        - Parameters passed from the wrong model: `Adam(old_model.parameters())`, or `Adam(model.head.parameters())` while the trained model is another instance.
        - A loss network (perceptual VGG, a frozen teacher) left with `requires_grad=True`, so it gets gradients nobody uses.

    Fixes:
        - Create the optimizer after the model is final (wrapped, moved, loaded): `model = wrap(model).to(device); optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)`.
        - Check coverage: `{id(p) for g in optimizer.param_groups for p in g['params']} & {id(p) for p in model.parameters()}` must not be empty.
        - For a network that must stay fixed, call `net.requires_grad_(False)` (and `net.eval()`).

    Example:
        optimizer-not-on-model: Adam stepped 40 times but owns none of the 4 parameter tensors
        of Net (1,290 values), which get gradients and were not updated by hand (threshold
        2 steps).
    """

    id = "optimizer-not-on-model"
    title = "optimizer does not own the trained model"
    severity = "error"
    area = "code"
    requires = ("optimizer_coverage",)
    # A state, not an event: a later add_param_group or a rebuilt optimizer makes it untrue.
    retractable = True

    def check(
        self,
        m: Mapping[str, Any],
        *,
        min_optimizer_steps: int = 2,  # one step can precede an add_param_group; two show the loop's optimizer
    ) -> list[Finding]:
        coverage = m["optimizer_coverage"]
        steps = int(coverage.get("optimizer_steps") or 0)
        if steps < min_optimizer_steps:
            return []
        with_gradients = [model for model in coverage.get("models") or [] if model.get("got_grad")]
        orphans = [model for model in with_gradients
                   if not model.get("in_any_optimizer") and not model.get("manual_updates")]
        if not orphans:
            return []
        covered = [model for model in with_gradients if model.get("in_any_optimizer")]
        names = [o["name"] for o in coverage.get("optimizers") or [] if o.get("name")]
        optimizer = " and ".join(dict.fromkeys(names)) or "the optimizer"
        findings = []
        for orphan in orphans:
            values = int(orphan.get("values") or 0)
            if covered:
                context = (f"; {', '.join(model['model'] for model in covered)} is trained, so "
                           f"{orphan['model']} may be an auxiliary network that should not require grad")
            else:
                context = "; no model with gradients is in any optimizer, so nothing is being trained"
            findings.append(self.finding(
                f"{optimizer} stepped {count(steps)} times but owns none of the {count(orphan.get('parameters', 0))} parameter "
                f"tensors of {orphan['model']} ({count(values)} values), which get gradients and were not updated by "
                f"hand (threshold {min_optimizer_steps} steps){context}.",
                severity="warning" if covered else "error",
                where=orphan["model"], step=min_optimizer_steps - 1,  # the update that completes the evidence
                evidence={"model": orphan["model"], "optimizer_steps": steps, "parameters": orphan.get("parameters"),
                          "values": values, "optimizers": coverage.get("optimizers") or [],
                          "trained_models": [model["model"] for model in covered]},
            ))
        return findings
