from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, median, rounded


def _early_ratio(group: Mapping[str, Any], points: int) -> tuple[float, int] | None:
    """Median, over the first sampled steps, of the decay term against the gradient term.

    Coupled decay (SGD, Adam with weight_decay) adds λ·w to the gradient, so the ratio is
    λ‖w‖ / ‖g‖. Decoupled decay (AdamW) shrinks w by lr·λ·w beside an Adam step that moves
    each value by about lr, so the ratio is λ‖w‖ / √n = λ·rms(w). Only the start is judged:
    at the minimum of loss + λ/2‖w‖² the two terms are equal by definition, so a ratio
    near 1 late in training is convergence, not excess decay.
    """
    weights = dict(all_points(group.get("weight_norm_series") or {}))
    decay = float(group.get("weight_decay") or 0.0)
    if group.get("decoupled_weight_decay"):
        numel = int(group.get("numel") or 0)
        if numel <= 0:
            return None
        ratios = [decay * w / math.sqrt(numel) for _, w in sorted(weights.items())[:points]]
    else:
        grads = all_points(group.get("grad_norm_series") or {})
        ratios = [decay * weights[step] / g for step, g in grads if step in weights and g > 0][:points]
    return (median(ratios), len(ratios)) if ratios else None


@register
class WeightDecayHigh(Rule):
    """Weight decay dominates the update: the parameters are pulled to zero faster than the gradient moves them.

    What it detects:
        Per param group, the size of the weight-decay term against the gradient term at
        the start of training (median of the first sampled steps): λ‖w‖/‖g‖ for decay
        coupled to the gradient (SGD, Adam with `weight_decay`), λ·rms(w) against Adam's
        per-value step for decoupled decay (AdamW). It fires when the decay term is
        `ratio_high`× the gradient term or more and, for non-adaptive optimizers, the decay
        alone would halve the weights within `halving_steps_max` steps (lr·λ per step,
        amplified 1/(1−momentum) by momentum). `SGD(weight_decay=1.0)` fires; the usual
        5e-4 to 1e-2 for SGD and 0.01–0.1 for AdamW do not.

    Why it matters:
        Weight decay is a regulariser meant to nudge weights towards smaller values; the
        recommended range is λ = 1e-6…1e-3 (003 §4.5.4). When it outweighs the gradient,
        every step mostly shrinks the weights: the model is pulled towards zero, the loss
        stalls high (or at chance) and more training does not help. Adam with coupled
        decay is hit hardest, since the decay term is normalised together with the
        gradient (the reason AdamW decouples it).

    Likely causes:
        - A weight decay written as a percentage or confused with another parameter: `weight_decay=1.0` or `0.1` for SGD.
        - `weight_decay` copied from an AdamW recipe (0.01–0.1, decoupled) into SGD or Adam, where it is coupled and much stronger.
        - Weight decay on every parameter, including biases and normalisation gains (003 §4.1: biases are not regularised).

    Fixes:
        - Use λ in 1e-6…1e-3 for SGD/Adam (003 §4.5.4), e.g. `torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)`.
        - For decay on an AdamW scale, use `torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)` (decoupled).
        - Exclude biases and norm layers: two param groups, `{'params': decay, 'weight_decay': 5e-4}, {'params': no_decay, 'weight_decay': 0.0}`.

    Example:
        weight-decay-high: in SGD group 0 (weight_decay 1) the decay term is 12× the gradient
        term at the start of training (λ‖w‖/‖g‖, median of 3 sampled steps; threshold 3×),
        and decay alone halves the weights every 7 steps (threshold 1,000).
    """

    id = "weight-decay-high"
    title = "weight decay dominates the update"
    severity = "warning"
    area = "dynamics"
    requires = ("optimizer_groups",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        ratio_high: float = 3.0,  # decay 3× the gradient: the step points mostly at zero (SGD 1e-2 on a ResNet is ≈ 1×)
        halving_steps_max: float = 1000.0,  # SGD lr 0.1, momentum 0.9, λ 5e-4 halves in ~1,400 steps without gradient; 1.0 in < 10
        early_points: int = 3,  # the first sampled steps: the decay's share is judged before training reshapes the weights
    ) -> list[Finding]:
        findings = []
        for group in m["optimizer_groups"]:
            decay = float(group.get("weight_decay") or 0.0)
            if decay <= 0:
                continue
            measured = _early_ratio(group, early_points)
            if measured is None or measured[0] < ratio_high:
                continue
            ratio, points = measured
            head = (group.get("grad_norm_series") or {}).get("head") or []
            step = int(head[min(points, len(head)) - 1][0]) if head else None  # the evidence is complete here
            lr = float(group.get("lr_first") or 0.0)
            halving = None
            if not group.get("adaptive") or group.get("decoupled_weight_decay"):
                momentum = 0.0 if group.get("adaptive") else min(float(group.get("momentum") or 0.0), 0.99)
                per_step = lr * decay / (1 - momentum)
                halving = math.log(2) / per_step if per_step > 0 else math.inf
                if halving > halving_steps_max:
                    continue
            name = f"{group.get('optimizer', 'optimizer')} group {group.get('group', 0)}"
            kind = "λ·rms(w) against Adam's per-value step" if group.get("decoupled_weight_decay") else "λ‖w‖/‖g‖"
            speed = (f", and decay alone halves the weights every {count(round(halving))} steps "
                     f"(threshold {count(round(halving_steps_max))})"
                     if halving is not None else "")
            findings.append(self.finding(
                f"in {name} (weight_decay {num(decay)}) the decay term is {num(ratio)}× the gradient term at the start of "
                f"training ({kind}, median of {points} sampled steps; threshold {num(ratio_high)}×){speed}.",
                where=name, step=step,
                evidence={"optimizer": group.get("optimizer"), "group": group.get("group"), "weight_decay": decay,
                          "decoupled": bool(group.get("decoupled_weight_decay")), "decay_to_gradient": rounded(ratio),
                          "halving_steps": rounded(halving) if halving is not None else None, "lr": lr,
                          "params": group.get("params")},
            ))
        return findings
