from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.code.loss_call_helpers import first_per_site, loss_name

# What each loss needs, and the graph sources that cannot be it (002 #4, 003 §4.5.3 #18).
WRONG_SOURCES = {
    "nll": ("log-probabilities (log_softmax)", {"raw", "softmax", "sigmoid"}),
    "kl_div": ("log-probabilities (log_softmax)", {"raw", "softmax", "sigmoid"}),
    "bce": ("probabilities (sigmoid)", {"raw", "log_softmax", "logsigmoid"}),
}
SOURCE_WORDS = {"raw": "raw logits", "softmax": "softmax probabilities (not their log)",
                "sigmoid": "sigmoid probabilities (not their log)",
                "log_softmax": "log-probabilities", "logsigmoid": "log-probabilities"}


@register
class LogitsToProbabilityLoss(Rule):
    """Raw logits (or probabilities without the log) are fed to a loss that expects probabilities or log-probabilities.

    What it detects:
        NLLLoss / KLDivLoss whose input is not a log-softmax (raw logits, or softmax
        probabilities without the log), and BCELoss whose input is not a sigmoid
        output. The source is read from the autograd graph; for NLL and KL-divergence the
        values must also fail the log-probability test (logsumexp over classes ≠ 0), so a
        log-softmax written by hand never fires.

    Why it matters:
        NLLLoss only picks −input[target]: given logits it rewards pushing one logit to
        +∞, the loss runs to −∞ and the numbers look like progress. BCELoss on unsquashed
        scores optimises the wrong quantity. Nothing crashes.

    Likely causes:
        - The model returns logits but the loss is NLLLoss (it expects F.log_softmax outputs).
        - F.binary_cross_entropy was used where F.binary_cross_entropy_with_logits was meant.
        - KLDivLoss was given probabilities or logits as its first argument instead of log-probabilities.

    Fixes:
        - For logits use nn.CrossEntropyLoss (multi-class) or nn.BCEWithLogitsLoss (binary / multi-label): they apply log_softmax / sigmoid themselves, stably.
        - If you want NLLLoss or KLDivLoss, apply F.log_softmax(logits, dim=1) first.

    Example:
        logits-to-probability-loss: NLLLoss / F.nll_loss at train.py:42 receives raw
        logits but needs log-probabilities (log_softmax); max |logsumexp| = 7.3 > 0.001.
    """

    id = "logits-to-probability-loss"
    title = "logits fed to a loss expecting (log-)probabilities"
    severity = "error"
    area = "code"
    requires = ("loss_calls",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        log_probability_tolerance: float = 1e-3,  # float32 log_softmax rows sum to 1 within ~1e-6
    ) -> list[Finding]:
        findings = []
        for call in first_per_site(m["loss_calls"]):
            kind, source = call.get("loss"), call.get("input_source")
            if kind not in WRONG_SOURCES or source not in WRONG_SOURCES[kind][1]:
                continue
            needed = WRONG_SOURCES[kind][0]
            deviation = call.get("log_probability_error")
            if kind != "bce" and deviation is not None and deviation <= log_probability_tolerance:
                continue  # the values are log-probabilities whatever the graph says
            detail = "" if deviation is None else (
                f"; max |logsumexp over classes| = {num(deviation)} > {num(log_probability_tolerance)}"
            )
            findings.append(
                self.finding(
                    f"{loss_name(kind)} at {call['where']} receives {SOURCE_WORDS[source]} but "
                    f"needs {needed}{detail}.",
                    where=call["where"],
                    step=call.get("step"),
                    evidence={"loss": kind, "input_source": source,
                              "log_probability_error": deviation,
                              "tolerance": log_probability_tolerance},
                )
            )
        return findings
