from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

# Above this many classes the per-class vectors are summarised instead of spelled out.
_SPELL_OUT_CLASSES = 12


@register
class ClassImbalance(Rule):
    """The training labels are dominated by a few classes.

    What it detects:
        The ratio between the most and the least frequent class in the training split
        (majority count / minority count) above a limit.

    Why it matters:
        Imbalance itself is not a bug, but a model trained on it with a plain loss learns
        to predict the majority class and still reaches a high accuracy (the accuracy
        paradox): at 10:1 always answering the majority class is already 91% accurate
        while the minority class is never found. The output bias also starts far from
        the class prior, wasting the first epochs (bias initialisation, 003 §4.2).

    Likely causes:
        - The problem is naturally skewed (rare disease, rare mutation, fraud).
        - The data collection or filtering dropped most examples of some classes.
        - Labels were merged or mapped wrongly, emptying a class.

    Fixes:
        - Weight the loss by inverse class frequency:
          `nn.CrossEntropyLoss(weight=torch.tensor(w))` with w_c = n / (k * n_c)
          (sklearn's `compute_class_weight("balanced", ...)`); for one sigmoid output use
          `nn.BCEWithLogitsLoss(pos_weight=torch.tensor(n_neg / n_pos))`.
        - Use a focal loss (e.g. `torchvision.ops.sigmoid_focal_loss`, gamma=2) so easy
          majority examples stop dominating the gradient.
        - Resample: `torch.utils.data.WeightedRandomSampler(weights=1/n_c per sample,
          num_samples=len(ds))`, or oversample the minority (SMOTE/ADASYN) after
          splitting, never before.
        - Initialise the output bias to the log class prior: `model.head.bias.data =
          torch.log(counts / counts.sum())`, or log(n_pos / n_neg) for one sigmoid output
          (003 §4.2).
        - Judge the model with per-class recall, F1 or balanced accuracy and the confusion
          matrix, not accuracy.

    Example:
        class-imbalance: class 'healthy' has 4,750 training rows and class 'tumour' 250
        (19.0:1), above the 10:1 limit.
    """

    id = "class-imbalance"
    title = "imbalanced classes"
    severity = "warning"
    area = "data"
    requires = ("class_balance",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        # At 10:1 the majority-only baseline is 91% accurate, so accuracy stops telling
        # a working model from a useless one (003 §4.5.1 accuracy paradox, 000 §2.3).
        majority_to_minority_ratio_high: float = 10.0,
    ) -> list[Finding]:
        balance = m["class_balance"]
        counts = {str(k): int(v) for k, v in balance["counts"].items() if int(v) > 0}
        if len(counts) < 2:
            return []
        majority = max(counts, key=counts.get)
        minority = min(counts, key=counts.get)
        ratio = counts[majority] / counts[minority]
        if ratio <= majority_to_minority_ratio_high:
            return []
        total = sum(counts.values())
        classes = sorted(counts)
        weights = [total / (len(classes) * counts[c]) for c in classes]
        log_prior = [math.log(counts[c] / total) for c in classes]
        baseline = counts[majority] / total
        message = (
            f"class {majority!r} has {count(counts[majority])} {balance.get('split', 'train')} rows and "
            f"class {minority!r} {count(counts[minority])} ({ratio:.1f}:1), above the "
            f"{num(majority_to_minority_ratio_high)}:1 limit; always predicting {majority!r} "
            f"would already be {percent(baseline)} accurate."
        )
        return [
            self.finding(
                message,
                where=balance.get("label"),
                evidence={
                    "split": balance.get("split", "train"),
                    "majority_class": majority,
                    "minority_class": minority,
                    "majority_count": counts[majority],
                    "minority_count": counts[minority],
                    "ratio": round(ratio, 3),
                    "ratio_high": majority_to_minority_ratio_high,
                    "majority_baseline_accuracy": round(baseline, 4),
                    "n_classes": len(classes),
                    "class_weights": {c: round(w, 4) for c, w in list(zip(classes, weights))[:50]},
                    "log_prior_bias": {c: round(b, 4) for c, b in list(zip(classes, log_prior))[:50]},
                },
                fixes=_fixes(classes, counts, weights, log_prior),
            )
        ]


def _vector(values: list[float]) -> str:
    return "[" + ", ".join(f"{num(v, 4)}" for v in values) + "]"


def _fixes(classes: list[str], counts: dict[str, int], weights: list[float],
           log_prior: list[float]) -> list[str]:
    order = f" (classes in sorted order: {', '.join(classes)})"
    if len(classes) > _SPELL_OUT_CLASSES:
        order = f" ({len(classes)} classes in sorted order; weights range {num(min(weights))}–{num(max(weights))})"
        weight_text = "w = n / (k * counts)"
        bias_text = "torch.log(counts / counts.sum())"
    else:
        weight_text = f"torch.tensor({_vector(weights)})"
        bias_text = f"torch.tensor({_vector(log_prior)})"
    fixes = [
        f"Weight the loss: `nn.CrossEntropyLoss(weight={weight_text})`, weights n / (k * n_c){order}.",
        f"Initialise the output bias to the log class prior: `model.head.bias.data = {bias_text}` "
        "so the first predictions already match the class frequencies (003 §4.2).",
    ]
    if len(classes) == 2:
        negative, positive = classes
        fixes.append(
            f"With one sigmoid output for {positive!r}: `nn.BCEWithLogitsLoss(pos_weight="
            f"torch.tensor({num(counts[negative] / counts[positive], 4)}))` and initialise its bias to "
            f"log(n_pos / n_neg) = {num(math.log(counts[positive] / counts[negative]), 4)} (003 §4.2)."
        )
    fixes += [
        "Use a focal loss (e.g. `torchvision.ops.sigmoid_focal_loss`, gamma=2) so the many easy "
        "majority examples stop dominating the gradient.",
        "Resample with `torch.utils.data.WeightedRandomSampler(weights=[1 / n_c of each sample's "
        "class], num_samples=len(dataset))`, or oversample the minority after splitting, never before.",
        "Report per-class recall / F1 / balanced accuracy and the confusion matrix instead of "
        "accuracy alone.",
    ]
    return fixes
