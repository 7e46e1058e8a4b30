from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.loss_call_helpers import first_per_site, loss_name

# Losses that apply their own softmax / sigmoid to the input (002 #4, 003 §4.5.3 #18).
LOGIT_LOSSES = {"cross_entropy", "bce_with_logits", "multilabel_soft_margin"}
PROBABILITIES = {"softmax": "softmax", "sigmoid": "sigmoid"}


@register
class ProbabilitiesToLogitLoss(Rule):
    """Softmax or sigmoid outputs are fed to a loss that applies softmax or sigmoid itself.

    What it detects:
        A call of CrossEntropyLoss (F.cross_entropy) or BCEWithLogitsLoss
        (F.binary_cross_entropy_with_logits) whose input was produced by a softmax or a
        sigmoid, read from the autograd graph (reshapes, slicing and clamping in between
        are seen through). A log_softmax input is fine and never fires.

    Why it matters:
        These losses expect raw scores (logits) and squash them themselves. Squashing
        twice compresses every input into a narrow band: gradients shrink, the loss
        plateaus far above zero and the model learns slowly or not at all — with no error.

    Likely causes:
        - The model ends with nn.Softmax / torch.softmax (or nn.Sigmoid) and the loss is CrossEntropyLoss / BCEWithLogitsLoss.
        - Probabilities computed for metrics or logging were passed to the loss instead of the logits.

    Fixes:
        - Remove the final softmax/sigmoid from the model and feed the raw logits to the loss; apply torch.softmax only when you need probabilities for prediction.
        - Or keep the probabilities and switch the loss: softmax → torch.log then nn.NLLLoss; sigmoid → nn.BCELoss (numerically worse — prefer the first fix).

    Example:
        probabilities-to-logit-loss: CrossEntropyLoss / F.cross_entropy at train.py:42
        receives softmax outputs; it applies softmax itself, so the model is squashed twice.
    """

    id = "probabilities-to-logit-loss"
    title = "probabilities fed to a loss expecting logits"
    severity = "error"
    area = "code"
    requires = ("loss_calls",)

    def check(self, m: Mapping[str, Any]) -> list[Finding]:
        findings = []
        for call in first_per_site(m["loss_calls"]):
            source = call.get("input_source")
            if call.get("loss") not in LOGIT_LOSSES or source not in PROBABILITIES:
                continue
            findings.append(
                self.finding(
                    f"{loss_name(call['loss'])} at {call['where']} receives {source} outputs "
                    f"but expects raw logits; it applies {source} itself, so the "
                    "scores are squashed twice.",
                    where=call["where"],
                    step=call.get("step"),
                    evidence={"loss": call["loss"], "input_source": source,
                              "input_shape": call.get("input_shape")},
                )
            )
        return findings
