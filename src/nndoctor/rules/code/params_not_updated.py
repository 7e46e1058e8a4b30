from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.param_status_helpers import float32_spacing, names_text, numel


@register
class ParamsNotUpdated(Rule):
    """Parameters get a gradient but the optimizer step does not change them.

    What it detects:
        Trainable parameters with a non-zero gradient whose values are identical after an
        optimizer step — most often because they are not in the optimizer at all
        (000 §1.4: "parameters left out of the update"). In a live run the cause is told
        apart from the evidence: not in the optimizer; `.grad` cleared before the step;
        an update below float32 resolution (named as gradient clipping when the gradient
        was much larger right after backward); a param group whose lr was 0 at every
        update (a warning). Live, at least two checked updates are needed; updates at
        lr = 0 and steps the framework skipped are not counted as evidence.

    Why it matters:
        Those layers stay at their initialisation forever while gradients are computed
        for them at full cost; the model trains with a fraction of its capacity and gives
        no error.

    Likely causes:
        - The optimizer was created before layers were added or replaced (`model.fc = nn.Linear(...)` after `Adam(model.parameters())`).
        - Only some parameters were passed: `Adam(model.encoder.parameters())`, or a param-group list that misses a module.
        - Gradients cleared between `backward()` and `step()`, or `step()` called before `backward()`.
        - A learning rate of 0 for a param group, or an update too small to change float32 values (a gradient clipped to ~0).

    Fixes:
        - Create the optimizer after the model is complete and moved to its device: `model.to(device); optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)`.
        - Check coverage: `set(map(id, model.parameters())) - {id(p) for g in optimizer.param_groups for p in g['params']}` must be empty.
        - Check each param group's `lr` (`[g['lr'] for g in optimizer.param_groups]`).

    Example:
        params-not-updated: 2 parameters (fc.weight, fc.bias; 1,290 values) had non-zero
        gradients but did not change in the optimizer step; 2 of them are not in the
        optimizer.
    """

    id = "params-not-updated"
    title = "parameters not updated by the optimizer"
    severity = "error"
    area = "code"
    requires = ("parameter_status",)
    # A state: a later update that changes the parameter contradicts it.
    retractable = True
    optional = ('steps_observed',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        unchanged_values_min: int = 1,  # any parameter left out of the update is a bug, however small
        gradient_to_value_min: float = 1e-3,  # below this even lr=1e-4 moves a float32 weight by less than its rounding step
        min_checked_updates: int = 2,  # live, in the optimizer: one unchanged update can be a skipped step (GradScaler, accumulation no-op)
        min_zero_lr_updates: int = 3,  # a warm-up starting at lr = 0 spends one step there, not several in a row
        clipping_shrink_min: float = 100.0,  # a gradient 100× smaller at the step than after backward was clipped away
    ) -> list[Finding]:
        status = m["parameter_status"]
        findings, stale = [], [p for p in status if _stale(p, gradient_to_value_min, min_checked_updates)]
        if stale and numel(stale) >= unchanged_values_min:
            groups: dict[str, list[Mapping[str, Any]]] = {}
            for p in stale:
                groups.setdefault(_cause(p, clipping_shrink_min), []).append(p)
            for cause, params in groups.items():
                findings.append(self._stale_finding(cause, params, unchanged_values_min, m.get("steps_observed")))
        zero_lr = [p for p in status if p.get("trainable") and p.get("got_grad") and not p.get("checked_updates")
                   and int(p.get("zero_lr_updates") or 0) >= min_zero_lr_updates]
        if zero_lr:
            findings.append(self.finding(
                f"{len(zero_lr)} parameters ({names_text(zero_lr)}; {count(numel(zero_lr))} values) get gradients but their "
                f"param group's lr was exactly 0 at every one of {count(max(p['zero_lr_updates'] for p in zero_lr))} "
                f"updates (threshold {min_zero_lr_updates}), so they never change.",
                severity="warning", where=[p["name"] for p in zero_lr],
                evidence={"zero_lr": [p["name"] for p in zero_lr], "values": numel(zero_lr),
                          "zero_lr_updates": max(p["zero_lr_updates"] for p in zero_lr)},
                causes=["A param group created with lr=0 (to freeze it), or a schedule that holds lr at 0.",
                        "A scheduler whose factor is 0 for the whole run (`LambdaLR` returning 0, warm-up longer than the run)."],
                fixes=["Print `[g['lr'] for g in optimizer.param_groups]`; give the group a non-zero lr.",
                       "To freeze parameters on purpose, set `p.requires_grad_(False)` instead: no gradient is computed for them."],
            ))
        return findings

    def _stale_finding(self, cause: str, params: list, values_min: int, steps: Any) -> Finding:
        head = (f"{len(params)} parameters ({names_text(params)}; {count(numel(params))} values) had non-zero gradients but "
                f"did not change in the optimizer step (threshold: {values_min} value)")
        evidence = {"not_updated": [p["name"] for p in params], "cause": cause, "values": numel(params),
                    "not_in_optimizer": [p["name"] for p in params if p.get("in_optimizer") is False],
                    "steps_observed": steps, "checked_updates": max(int(p.get("checked_updates") or 0) for p in params)}
        p = params[0]
        doc_fixes, causes = self.doc().fixes, None
        if cause == "not_in_optimizer":
            tail, fixes = f"; {len(params)} of them are not in the optimizer", doc_fixes[:2]
        elif cause == "update_discarded":
            stuck = (" and the optimizer's own step count never advanced, so its state is dropped too"
                     if any(q.get("optimizer_step_stuck") for q in params) else "")
            tail = (f": the optimizer computed non-zero updates at each of {count(evidence['checked_updates'] + 1)} sampled "
                    f"calls, but the parameters it was given next were the same{stuck}. The updated parameters are "
                    "returned, not written in place, and the result is not kept")
            fixes = ["Keep what the update returns: `state = update_model(state, grads)` / "
                     "`state = state.apply_gradients(grads=grads)`, or `params = optax.apply_updates(params, updates)` "
                     "and `opt_state = new_opt_state`.",
                     "Return the new parameters and optimizer state from the jitted step and rebind them in the loop."]
            causes = ["A functional update whose result is dropped: `update_model(state, grads)` without `state = `.",
                      "The loop rebinds another name (`new_state = step(state, batch)`) and keeps passing the old one."]
        elif cause == "grad_cleared":
            tail = (f"; their .grad was None at optimizer.step() in {p.get('grad_none_at_step')} checked update(s) although "
                    "backward had produced it: the gradients are cleared between backward and step (zero_grad in "
                    "between), or the step comes before the backward")
            fixes = ["Keep the order `optimizer.zero_grad(); loss.backward(); optimizer.step()`; nothing that sets "
                     "`.grad = None` may run between backward and step."]
        elif cause in ("clipped", "below_resolution"):
            update, ulp = abs(p["lr"] * p["grad_abs_max"]), float32_spacing(p["value_abs_max"])
            evidence.update(lr=p["lr"], grad_abs_max=p["grad_abs_max"], value_abs_max=p["value_abs_max"],
                            grad_abs_max_after_backward=p.get("grad_abs_max_after_backward"))
            tail = (f"; the update lr·|grad| = {num(update, 2)} is below float32 resolution at |w| = {num(p['value_abs_max'])} "
                    f"(spacing {num(ulp, 2)})")
            if cause == "clipped":
                tail += (f": the gradient was {num(p['grad_abs_max_after_backward'])} after backward but "
                         f"{num(p['grad_abs_max'], 2)} at the step, so gradient clipping (e.g. `clip_grad_norm_(…, 1e-9)`) "
                         "shrank it to nothing")
                fixes = ["Use a sensible clipping threshold: `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)`."]
            else:
                fixes = ["Raise the learning rate of this param group (try 1e-4 to 1e-2 for Adam, 1e-3 to 1e-1 for SGD)."]
        else:
            tail, fixes = "; all are in the optimizer, so check their param group's lr", doc_fixes
        return self.finding(head + tail + ".", where=[q["name"] for q in params], evidence=evidence, fixes=fixes,
                            causes=causes)


def _stale(p: Mapping[str, Any], gradient_to_value_min: float, min_checked: int) -> bool:
    if not (p.get("trainable") and p.get("got_grad") and not p.get("grad_all_zero") and p.get("changed") is False):
        return False
    if p.get("in_optimizer") is False:
        return True  # outside the optimizer nothing updates it: one unchanged update is proof enough
    if "checked_updates" in p and int(p["checked_updates"] or 0) < min_checked:
        return False  # live: one unchanged update can be a step the framework skipped
    if p.get("grad_abs_max") is None:
        return True  # no magnitudes: nothing says the update was negligible
    # Backward's gradient decides whether an update was due (clipping may have shrunk it: a cause to report).
    grad = max(p["grad_abs_max"], p.get("grad_abs_max_after_backward") or 0.0)
    return grad > gradient_to_value_min * max(p.get("value_abs_max") or 0.0, 1e-12)


def _cause(p: Mapping[str, Any], clipping_shrink_min: float) -> str:
    if p.get("update_discarded"):
        return "update_discarded"
    if p.get("in_optimizer") is False:
        return "not_in_optimizer"
    if int(p.get("grad_none_at_step") or 0) > 0:
        return "grad_cleared"
    lr, grad, value = p.get("lr"), p.get("grad_abs_max"), p.get("value_abs_max")
    if lr is not None and grad is not None and value and abs(lr * grad) < float32_spacing(value):
        after = p.get("grad_abs_max_after_backward")
        return "clipped" if after is not None and after >= clipping_shrink_min * max(grad, 1e-45) else "below_resolution"
    return "generic"

