from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class InvalidOutput(Rule):
    """The model's output on the real batch is not a valid prediction: non-finite, the wrong batch size, or the same for every sample.

    What it detects:
        One forward pass on your batch (003 §4.5.2: "the model consumes the data and
        produces a valid output"): NaN or infinite values in the outputs or the loss, an
        output whose first dimension is not the N samples of the batch (judged as the loss
        receives it: a `(1, N, C)` output passed as `out.view(-1, C)` is fine), or an output that
        is identical for all samples although their inputs differ — and stays identical
        after the copy was trained on the batch (a zero-initialised head is fine at step 0).

    Why it matters:
        A NaN spreads into every weight at the first update. A wrong batch dimension means
        predictions and targets are paired wrongly or averaged over the batch. A constant
        output means the input has no influence on the prediction at all.

    Likely causes:
        - log/sqrt/division of zero or of negative values in forward; an uninitialised tensor (`torch.empty`).
        - A reduction over dim 0 (`x.mean(0)`, `x.sum(0)`) or a `view`/`reshape` that folds samples together.
        - All ReLU units dead from a large negative bias, a layer multiplied by zero, or a detached/overwritten input.

    Fixes:
        - Find the first module with non-finite output with forward hooks or `torch.autograd.set_detect_anomaly(True)`; add an epsilon to log/sqrt/divisions.
        - Keep dim 0 for samples: reduce over features (`x.mean(dim=1)`) and use `x.flatten(1)` instead of `x.view(-1)`.
        - Print the activations layer by layer for two different inputs to see where they become equal; re-initialise with `nn.init.kaiming_normal_`.

    Example:
        invalid-output: the output has shape (1, 10): its first dimension is 1, not the 32
        samples of the batch.
    """

    id = "invalid-output"
    title = "invalid model output on the real batch"
    severity = "error"
    area = "code"
    requires = ("output_check",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        relative_spread_min: float = 1e-6,  # float32 round-off between different samples is ≥1e-7 of the scale; exactly equal outputs give 0
    ) -> list[Finding]:
        check = m["output_check"]
        findings = []
        evidence = {key: check.get(key) for key in ("batch_size", "output_shape", "output_type")}
        if check.get("non_finite_count"):
            findings.append(self.finding(
                f"{check['non_finite_count']} of {check['output_numel']} output values are NaN or infinite on the "
                "real batch (threshold: 0).",
                evidence={**evidence, "non_finite_count": check["non_finite_count"], "output_numel": check["output_numel"]},
            ))
        elif not math.isfinite(check.get("loss_value", 0.0)):
            findings.append(self.finding(
                f"The loss is {check['loss_value']} on the real batch although every output value is finite "
                "(threshold: a finite loss).",
                evidence={**evidence, "loss_value": check["loss_value"]},
                causes=["log(0) or division by zero inside the loss (probabilities of exactly 0 or 1, an empty mask)."],
            ))
        if check.get("batch_dim_ok") is False:
            # Judged as the loss sees it: a reshape before the loss (`out.view(-1, C)`) counts.
            seen = check.get("loss_view_shape")
            as_seen = f" (the loss receives it as {tuple(seen)})" if seen else ""
            findings.append(self.finding(
                f"The output has shape {tuple(check['output_shape'])}{as_seen}: its first dimension is not the "
                f"{check['batch_size']} samples of the batch (expected {check['batch_size']}, or N × sequence length).",
                evidence={**evidence, "loss_view_shape": seen},
            ))
        spread, trained = check.get("relative_spread"), check.get("relative_spread_after_training")
        if spread is not None and spread < relative_spread_min and (trained is None or trained < relative_spread_min):
            after = " and stays so after training a copy on the batch" if trained is not None else ""
            findings.append(self.finding(
                f"The output is the same for all {check['batch_size']} samples although their inputs differ{after} "
                f"(relative spread {num(spread, 2)}, threshold {num(relative_spread_min)}).",
                severity="warning",
                evidence={**evidence, "relative_spread": spread, "relative_spread_after_training": trained},
            ))
        return findings
