from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.param_status_helpers import names_text, numel


@register
class ParamsNotUpdated(Rule):
    """Parameters get a gradient but the optimizer step does not change them.

    What it detects:
        Trainable parameters with a non-zero gradient whose values are identical after an
        optimizer step — most often because they are not in the optimizer at all
        (000 §1.4: "parameters left out of the update").

    Why it matters:
        Those layers stay at their initialisation forever while gradients are computed
        for them at full cost; the model trains with a fraction of its capacity and gives
        no error.

    Likely causes:
        - The optimizer was created before layers were added or replaced (`model.fc = nn.Linear(...)` after `Adam(model.parameters())`).
        - Only some parameters were passed: `Adam(model.encoder.parameters())`, or a param-group list that misses a module.
        - A learning rate of 0 for a param group, or an update too small to change float32 values.

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
    optional = ('steps_observed',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        unchanged_values_min: int = 1,  # any parameter left out of the update is a bug, however small
        gradient_to_value_min: float = 1e-3,  # below this even lr=1e-4 moves a float32 weight by less than its rounding step
    ) -> list[Finding]:
        def meaningful(p: Mapping[str, Any]) -> bool:
            if p.get("in_optimizer") is False or p.get("grad_abs_max") is None:
                return True  # outside the optimizer nothing updates it, whatever the gradient
            return p["grad_abs_max"] > gradient_to_value_min * max(p.get("value_abs_max") or 0.0, 1e-12)

        stale = [
            p for p in m["parameter_status"]
            if p.get("trainable") and p.get("got_grad") and not p.get("grad_all_zero") and p.get("changed") is False
            and meaningful(p)
        ]
        if numel(stale) < unchanged_values_min or not stale:
            return []
        outside = [p for p in stale if p.get("in_optimizer") is False]
        reason = (f"; {len(outside)} of them are not in the optimizer" if outside
                  else "; all are in the optimizer, so check their param group's lr")
        return [self.finding(
            f"{len(stale)} parameters ({names_text(stale)}; {numel(stale):,} values) had non-zero gradients but did "
            f"not change in the optimizer step (threshold: {unchanged_values_min} value){reason}.",
            where=[p["name"] for p in stale],
            evidence={"not_updated": [p["name"] for p in stale], "not_in_optimizer": [p["name"] for p in outside],
                      "values": numel(stale), "steps_observed": m.get("steps_observed")},
        )]
