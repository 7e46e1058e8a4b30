from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class PoorlyCalibrated(Rule):
    """The model's confidences do not match how often it is right.

    What it detects:
        Expected calibration error (ECE): predictions are binned by confidence (15 bins)
        and the row-weighted gap between each bin's accuracy and its mean confidence is
        averaged. It fires only above both the limit and the ECE a perfectly calibrated
        model would show by chance on this many rows (the 95th percentile of simulated
        ECE), and reports the share of wrong answers given with confidence ≥ 0.9.

    Why it matters:
        A 0.95 that is right 70% of the time misleads everyone who thresholds, ranks or
        triages by the score — a clinician, a screening pipeline, an active-learning loop.
        Modern networks trained to low loss are typically overconfident.

    Likely causes:
        - Training long past the point of best validation loss (overfitting sharpens probabilities).
        - No regularisation toward soft predictions (label smoothing, weight decay, dropout).
        - Class priors differ between training and evaluation (resampling, a shifted population).

    Fixes:
        - Fit temperature scaling on the validation split (one scalar dividing the logits)
          or `sklearn.calibration.CalibratedClassifierCV`, and report ECE on test.
        - Train with label smoothing (`nn.CrossEntropyLoss(label_smoothing=0.1)`) or stop at the best validation loss.
        - Correct the prior when the class mix changed between training and use.

    Example:
        poorly-calibrated: on val the expected calibration error is 0.124 (limit 0.05; a
        calibrated model would show ≤ 0.011 here); the model is overconfident (mean
        confidence 0.96, accuracy 0.84) and 62% of its wrong answers have confidence ≥ 0.9.
    """

    id = "poorly-calibrated"
    title = "confidence does not match accuracy"
    severity = "warning"
    area = "evaluation"
    requires = ("calibration",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # ECE below 0.05 is considered well calibrated in practice (Guo et al. 2017 report
        # 0.01-0.02 after temperature scaling, 0.04-0.16 for uncalibrated deep nets): info.
        ece_info: float = 0.05,
        # Above 0.10 the scores cannot be read as probabilities at all: warning.
        ece_warning: float = 0.10,
    ) -> list[Finding]:
        findings = []
        for entry in m["calibration"]:
            ece, noise = entry["ece"], entry["ece_noise_95"]
            if ece <= max(ece_info, noise):
                continue
            severity = "warning" if ece > max(ece_warning, noise) else "info"
            limit = ece_warning if severity == "warning" else ece_info
            gap = entry["mean_confidence"] - entry["accuracy"]
            direction = ("overconfident" if gap > 0 else "underconfident") if abs(gap) >= 0.01 else \
                "confident in the wrong places (over- and under-confident in different ranges)"
            text = (f"On {entry['split']} the expected calibration error is {ece:.3f} (limit {num(limit)}; a calibrated "
                    f"model would show ≤ {noise:.3f} on these {count(entry['n'])} {entry['unit']}); the model is {direction} "
                    f"(mean confidence {entry['mean_confidence']:.2f}, accuracy {entry['accuracy']:.2f})")
            if entry["confident_wrong_share"] is not None:
                text += (f" and {percent(entry['confident_wrong_share'], 0)} of its {count(entry['n_wrong'])} wrong answers have "
                         f"confidence ≥ {num(entry['confident_threshold'])}")
            findings.append(self.finding(
                text + ". Do not read its scores as probabilities until it is recalibrated (temperature scaling).",
                severity=severity, where=entry["split"],
                evidence={key: entry[key] for key in ("split", "n", "ece", "ece_noise_95", "max_calibration_error",
                                                      "mean_confidence", "accuracy", "mean_confidence_wrong",
                                                      "confident_wrong_share", "n_wrong", "curve")}
                | {"ece_info": ece_info, "ece_warning": ece_warning}))
        return findings
