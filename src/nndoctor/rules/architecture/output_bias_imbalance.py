from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.architecture._output_priors import binary_gap, class_gap


@register
class OutputBiasImbalance(Rule):
    """The final layer's bias starts far from what the targets say the untrained model should predict.

    What it detects:
        Binary/multi-label targets: the output bias versus the log prior log(pos/neg) of
        each output. Class-index targets: the centered bias versus the centered log class
        frequencies (softmax ignores a common shift). Regression: the model's mean output
        versus the targets' mean, in target standard deviations (each output's std floored
        at the median output's, so a constant target is not infinitely far). Sigmoid
        outputs trained on probabilities (soft labels, grey pixels) count as binary, with
        the summed target mass as positives. Classes count only when
        the batch's imbalance is statistically clear (z ≥ 4 against balance); classes
        absent from the batch are not compared. A binary output is judged only with at
        least `minority_count_min` positives and negatives in the batch, `pos_weight` of
        `BCEWithLogitsLoss` moves the target to log(pos_weight·pos/neg), and reconstructions
        (targets equal to the inputs) and heads of more than `binary_outputs_max` sigmoid
        outputs (pixels, tokens) are not class priors and are left alone.

    Why it matters:
        An untrained classifier should predict the class frequencies. With a zero bias on
        a 1:20 dataset it predicts 50/50 instead, the first phase of training is spent
        only learning the bias (the "hockey stick" loss curve), and the large initial
        gradients can push the model into always predicting the majority class. The standard
        advice (003 §4.2) is to initialize the final bias to log(positives/negatives) for an imbalanced
        binary classifier and to the mean target (or normalize the targets) for
        regression (003 §4.2, §4.5.1).

    Likely causes:
        - Default (near-zero) bias on an imbalanced dataset.
        - Regression targets in raw units (prices, counts) that were not standardized.

    Fixes:
        - Binary: `nn.init.constant_(model.head.bias, math.log(n_pos / n_neg))`.
        - Multi-class: `with torch.no_grad(): model.head.bias.copy_(torch.log(class_freq))` (class frequencies summing to 1).
        - Regression: standardize the targets (`y = (y - y_mean) / y_std`) or set `model.head.bias.fill_(y_mean)`.

    Example:
        output-bias-imbalance: output layer 'head' (Linear) has bias 0.03 but the targets'
        log prior log(pos/neg) is -3 (48 of 1000 positive), a gap of 3 nats (threshold 1).
    """

    id = "output-bias-imbalance"
    title = "final bias far from the targets' prior"
    severity = "info"
    area = "architecture"
    requires = ("output_layer",)
    optional = ("initial_loss",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        imbalance_z_min: float = 4.0,  # a 4-sigma departure from balance is not batch noise
        gap_nats_min: float = 1.0,  # 1 nat off the log prior: the initial loss is visibly too high (003 §4.2)
        gap_nats_warning: float = 3.0,  # ≥ 1:20 imbalance left at bias 0: training starts in the wrong place
        regression_gap_std_min: float = 3.0,  # mean output 3 target-stds away from the mean target
        regression_gap_std_warning: float = 10.0,  # the bias must travel 10 stds before learning starts
        minority_count_min: int = 5,  # a rate from 1–4 positives in one batch is noise (±0.5–1 nat)
        binary_outputs_max: int = 256,  # more sigmoid outputs than this are pixels or tokens, not labels
    ) -> list[Finding]:
        layer = m["output_layer"]
        targets = layer.get("targets") or {}
        bias = layer.get("bias") or []
        if layer.get("targets_are_inputs"):
            return []  # an autoencoder reconstructs its input: pixel rates are not class priors
        if targets.get("kind") == "class_index":
            gap, detail, evidence = class_gap(bias, targets["counts"], imbalance_z_min)
        elif targets.get("kind") == "binary":
            if len(bias) > binary_outputs_max:
                return []
            pos_weight = (m.get("initial_loss") or {}).get("pos_weight")
            gap, detail, evidence = binary_gap(bias, targets["n"], targets["positives"], imbalance_z_min,
                                                minority_count_min, pos_weight,
                                                targets.get("soft", False))
        elif targets.get("kind") == "regression":
            return self._regression(layer, targets, regression_gap_std_min, regression_gap_std_warning)
        else:
            return []
        if gap is None or gap < gap_nats_min:
            return []
        return [self.finding(
            f"output layer '{layer['name']}' ({layer.get('kind', 'layer')}) {detail}, a gap of {num(gap, 2)} nats "
            f"(threshold {num(gap_nats_min)}).",
            severity="warning" if gap >= gap_nats_warning else "info",
            where=layer["name"], evidence={**evidence, "gap_nats": gap},
        )]

    def _regression(self, layer: dict, targets: dict, gap_min: float, gap_warning: float) -> list[Finding]:
        # An output whose targets barely vary in the batch (a pixel that is always 0) would
        # be "infinitely many stds" away from anything: each output's std is floored at the
        # median output's, so only outputs far off on the targets' common scale count.
        stds = sorted(targets["target_std"])
        typical_std = stds[len(stds) // 2] if stds else 0.0
        scales = [max(s, typical_std) for s in targets["target_std"]]
        gaps = [abs(t - o) / s if s > 0 else 0.0
                for t, o, s in zip(targets["target_mean"], targets["output_mean"], scales)]
        if not gaps or max(gaps) < gap_min:
            return []
        unit = gaps.index(max(gaps))
        mean, out, std = targets["target_mean"][unit], targets["output_mean"][unit], scales[unit]
        return [self.finding(
            f"regression targets average {num(mean, 4)} (std {num(std)}) but the untrained output "
            f"'{layer['name']}' averages {num(out)}: {num(max(gaps))} target stds away (threshold {num(gap_min)}).",
            severity="warning" if max(gaps) >= gap_warning else "info",
            where=layer["name"],
            evidence={"target_mean": mean, "target_std": std, "output_mean": out, "gap_std": max(gaps),
                      "unit": unit, "n": targets["n"]},
            fixes=[self.doc().fixes[2], "Or set the final bias to the mean target before training."],
        )]
