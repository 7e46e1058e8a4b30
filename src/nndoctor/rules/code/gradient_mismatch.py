from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class GradientMismatch(Rule):
    """A custom autograd.Function's backward does not match the numerical derivative of its forward.

    What it detects:
        Every `torch.autograd.Function` subclass that appears in the graph of your loss is
        called again in float64 on the arguments it received, and the directional
        derivative from its `backward` is compared with a central finite difference of its
        `forward` along random directions (001: check that hand-written gradients are
        correct). Deliberate surrogates are noted, not flagged: a backward that is exactly
        the negated derivative (gradient reversal) or non-zero where the forward is flat
        (straight-through estimators).

    Why it matters:
        A wrong backward trains the model in a wrong direction without any error: the loss
        decreases slowly or stalls, and no amount of tuning helps.

    Likely causes:
        - A missing factor or sign in `backward` (forgetting the chain rule: multiply by `grad_output`).
        - Gradients returned in the wrong order or for the wrong argument.
        - Values saved with `ctx.save_for_backward` that were modified in place afterwards.

    Fixes:
        - Check the Function yourself: `torch.autograd.gradcheck(MyFn.apply, (x.double().requires_grad_(),))`.
        - Write `backward` as `grad_input = grad_output * local_derivative`, one return value per `forward` input (None for non-tensors).
        - If the op can be written with differentiable torch operations, drop the custom Function.

    Example:
        gradient-mismatch: MySwish's backward differs from the numerical derivative by
        48% (relative error 0.48, threshold 1e-4).
    """

    id = "gradient-mismatch"
    title = "custom backward is wrong"
    severity = "error"
    area = "code"
    requires = ("custom_functions",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        relative_error_max: float = 1e-4,  # float64 central differences agree to ~1e-8 with a correct backward
        relative_error_max_low_precision: float = 1e-2,  # a Function that computes in float32: differences agree to ~1e-4
    ) -> list[Finding]:
        findings = []
        for result in m["custom_functions"]:
            limit = relative_error_max if result.get("precision", "float64") == "float64" else relative_error_max_low_precision
            if result.get("status") != "checked" or result["relative_error"] <= limit:
                continue
            evidence = {key: result.get(key) for key in ("name", "module", "precision", "relative_error", "numeric", "analytic")}
            if result.get("negated") or result.get("flat_forward"):
                kind = "the negated derivative (gradient reversal)" if result.get("negated") else \
                    "non-zero where the forward is flat (a straight-through estimator)"
                findings.append(self.finding(
                    f"{result['name']}'s backward is {kind}; taken as deliberate (relative error "
                    f"{num(result['relative_error'])}, threshold {num(limit)}).",
                    severity="info", where=result["name"], evidence=evidence,
                    causes=["A deliberate surrogate gradient."],
                    fixes=["Nothing to do if intended; otherwise check the sign and the chain-rule factor in backward."],
                ))
                continue
            findings.append(self.finding(
                f"{result['name']}'s backward differs from the numerical derivative of its forward: relative error "
                f"{num(result['relative_error'])} (threshold {num(limit)}).",
                where=result["name"], evidence=evidence,
            ))
        return findings
