from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

REGRESSION = {"mse", "l1", "smooth_l1", "huber"}
# Frameworks whose default initialisation (Flax: lecun_normal) gives an untrained head
# about 3× the logit variance of torch's default (kaiming_uniform with a=√5).
LARGER_DEFAULT_INIT = {"jax"}


@register
class InitialLossOff(Rule):
    """The loss before any training is far from what an untrained model should give.

    What it detects:
        The first loss compared with its analytic expectation (003 §4.5.3 #8): ln C for
        cross-entropy over C classes (2.3 for 10 balanced classes), ln 2 per output for
        binary cross-entropy, mean(target²) for MSE of a model predicting ≈ 0. The lower
        end of the expected range is the label entropy (classification) or the target
        variance (regression) — what a model whose output bias matches the data starts
        at — so imbalanced data does not look wrong. The first evaluation loss is judged
        the same way when it was measured (`initial_eval_loss`): a model evaluated before
        any training-mode forward (spectral_norm's power iteration not yet run, BatchNorm
        statistics never updated) can score far off while its training loss looks fine.

    Why it matters:
        A first loss far above the expectation means the untrained model is already
        confidently wrong: the output layer is initialised too large, the outputs are
        scaled wrongly, or the loss receives something other than what you think. Training
        then spends its first phase undoing the initialisation, or never recovers. For classification, a first
        loss far below the range is expected for a pretrained model; for a fresh model it
        points at labels leaking into the inputs.

    Likely causes:
        - A large initialisation of the last layer (weights with std 1 instead of the default ~1/sqrt(fan_in)).
        - Outputs multiplied by a large factor, or a temperature applied the wrong way round.
        - Regression targets on a large scale (not standardised) with an output bias left at 0.
        - reduction='sum' where a mean was intended (the loss grows with the batch size).

    Fixes:
        - Keep the default init of the output layer or shrink it: `nn.init.normal_(head.weight, std=0.01)`; `nn.init.zeros_(head.bias)`.
        - Standardise regression targets, or set the output bias to their mean: `nn.init.constant_(head.bias, y.mean())`.
        - For imbalanced classes set the output bias to the log class frequencies (`head.bias.data = torch.log(class_freq)`).
        - Check the reduction of the loss (`reduction='mean'`) and what is fed to it.

    Example:
        initial-loss-off: the initial CrossEntropyLoss is 14.2, 6.2× its expectation
        ln(10) = 2.3 for 10 classes (threshold 1.5×).
    """

    id = "initial-loss-off"
    title = "initial loss far from its expectation"
    severity = "warning"
    area = "preflight"
    requires = ("initial_loss",)
    optional = ("framework", "initial_eval_loss")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        classification_ratio_high: float = 1.5,  # default-initialised torch classifiers start within ~10% of ln C (003 §4.5.3 #8)
        # Flax's default init: healthy MLPs on standardised inputs were measured up to 1.84×
        # ln C (2–10 classes, 1–2 hidden layers, 40 seeds); a head initialised with std 1 is far beyond.
        classification_ratio_high_larger_init: float = 2.0,
        regression_ratio_high: float = 3.0,  # untrained outputs add their own variance (≈0.1–1) to mean(target²)
        ratio_low: float = 0.5,  # half the label entropy: no untrained model gets there by chance
    ) -> list[Finding]:
        if m.get("framework") in LARGER_DEFAULT_INIT:
            classification_ratio_high = classification_ratio_high_larger_init
        thresholds = (classification_ratio_high, regression_ratio_high, ratio_low)
        findings = self._judge(m["initial_loss"], None, *thresholds)
        evaluation = m.get("initial_eval_loss")
        # Only an evaluation before any optimizer step has the untrained expectation; after
        # training has started a high validation loss can be ordinary overfitting.
        if evaluation and evaluation.get("before_training"):
            findings += self._judge(evaluation, True, *thresholds)
        return findings

    def _judge(self, record: Mapping[str, Any], evaluation: bool | None, classification_ratio_high: float,
               regression_ratio_high: float, ratio_low: float) -> list[Finding]:
        """Findings for one first loss: the training one (`evaluation` None) or the first
        evaluation loss."""
        value, expected, low = record.get("value"), record.get("expected"), record.get("expected_low")
        if expected is None or value is None or not math.isfinite(value) or expected <= 0:
            return []
        ratio_high = regression_ratio_high if record.get("loss") in REGRESSION else classification_ratio_high
        evidence = {key: record.get(key) for key in ("loss", "value", "expected", "expected_low", "n_classes")}
        if evaluation is None:
            what, where = f"initial {record['loss']} loss", None
        else:
            what, where = f"first evaluation {record['loss']} loss (computed before any training step)", "evaluation"
            evidence.update(phase="evaluation", before_training=True)
        if value > expected * ratio_high:
            evidence["ratio"] = value / expected
            return [self.finding(
                f"The {what} is {num(value, 4)}, {times(value / expected)} its expectation "
                f"{num(expected, 4)} (threshold {times(ratio_high)}): {record.get('expected_basis', '')}.",
                evidence=evidence, step=record.get("step"), where=where,
            )]
        # A negative cross-entropy/NLL is not a low loss but a wrong input (raw logits into
        # NLLLoss): logits-to-probability-loss reports that, so no note here. Regression is
        # not judged from below: a random untrained function of a smooth low-dimensional
        # input can correlate with the target by chance (a 1-D curve fit starts at ~0.5×
        # the target variance), so a low start there is no evidence of leaked labels.
        if record.get("loss") in REGRESSION:
            return []
        if low is not None and low > 0 and 0 <= value < low * ratio_low:
            evidence["ratio"] = value / low
            return [self.finding(
                f"The {what} is {num(value, 4)}, below {times(ratio_low)} the lowest value an "
                f"untrained model should reach ({num(low, 4)}): fine for a pretrained model; otherwise the inputs "
                "may contain the labels.",
                severity="info", evidence=evidence, step=record.get("step"), where=where,
                causes=["A pretrained model (expected).", "Labels leaking into the inputs (a target column left among the features)."],
                fixes=["For a model trained from scratch, check that no input feature encodes the target."],
            )]
        return []
