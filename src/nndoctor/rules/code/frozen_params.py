from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.param_status_helpers import names_text, numel


@register
class FrozenParams(Rule):
    """Some parameters are frozen (requires_grad=False); an error when nothing is left to train.

    What it detects:
        Parameters with requires_grad=False. Freezing a pretrained backbone is a normal
        choice, so this is a note listing them — unless every parameter is frozen, in
        which case training cannot change the model at all.

    Why it matters:
        A forgotten freeze (002 #5: fine-tuning choices such as `freeze_pretrained`) makes
        layers that should adapt stay fixed; the loss plateaus early and nothing reports
        it. With everything frozen the optimizer has nothing to update.

    Likely causes:
        - A backbone frozen for a warm-up phase and never unfrozen.
        - `requires_grad_(False)` applied to the whole model instead of a sub-module.
        - A model loaded in inference mode (some loaders freeze parameters).

    Fixes:
        - Unfreeze what should train: `for p in model.head.parameters(): p.requires_grad_(True)`.
        - Freeze deliberately and only the backbone: `model.backbone.requires_grad_(False)`, and give the optimizer only trainable parameters.
        - List them: `[n for n, p in model.named_parameters() if not p.requires_grad]`.

    Example:
        frozen-params: 40 of 42 parameters (backbone.*; 11.2M of 11.2M values, 99.9%) are
        frozen; 2 train.
    """

    id = "frozen-params"
    title = "frozen parameters"
    severity = "info"
    area = "code"
    requires = ("parameter_status",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        trainable_values_min: int = 1,  # below this, nothing in the model can learn
    ) -> list[Finding]:
        status = m["parameter_status"]
        frozen = [p for p in status if not p.get("trainable")]
        if not frozen:
            return []
        trainable_values = numel(status) - numel(frozen)
        share = numel(frozen) / max(numel(status), 1)
        evidence = {"frozen": [p["name"] for p in frozen], "frozen_values": numel(frozen),
                    "trainable_values": trainable_values, "frozen_share": share}
        if trainable_values < trainable_values_min:
            return [self.finding(
                f"All {len(status)} parameters ({count(numel(status))} values) are frozen (requires_grad=False): "
                f"{trainable_values} trainable values, threshold {trainable_values_min}; training cannot change the model.",
                severity="error", where=[p["name"] for p in frozen], evidence=evidence,
            )]
        # Freezing on purpose leaves the frozen part out of the optimizer (the fine-tuning
        # recipe: `SGD(model.fc.parameters())`); frozen parameters handed to the optimizer
        # were meant to train.
        handed = [p for p in frozen if p.get("in_optimizer")]
        if handed:
            evidence["frozen_in_optimizer"] = [p["name"] for p in handed]
            return [self.finding(
                f"{len(handed)} frozen parameters ({names_text(handed)}; {count(numel(handed))} values) are in the "
                f"optimizer, which never updates them (requires_grad=False); {count(trainable_values)} values train. "
                "Parameters given to the optimizer were meant to learn: re-enable them with "
                "`p.requires_grad_(True)`, or leave them out of the optimizer if freezing them is intended.",
                severity="warning", where=[p["name"] for p in handed], evidence=evidence,
            )]
        return [self.finding(
            f"{len(frozen)} of {len(status)} parameters ({names_text(frozen)}; {count(numel(frozen))} values, {percent(share)}) "
            f"are frozen; {count(trainable_values)} values train (an error only below {trainable_values_min}).",
            where=[p["name"] for p in frozen], evidence=evidence,
        )]
