"""Gaps between an output layer's bias and the targets' prior, for output-bias-imbalance."""
from __future__ import annotations

import math

from nndoctor.core.numbers import num


def binary_gap(bias: list[float], n: int, positives: list[int], z_min: float, minority_min: int,
                pos_weight: list[float] | None, soft: bool = False):
    """The largest gap between an output's bias and its best constant logit: log(pos/neg),
    or log(w·pos/neg) with BCEWithLogitsLoss(pos_weight=w) (w = neg/pos balances it to 0)."""
    weights = pos_weight if pos_weight and len(pos_weight) in (1, len(bias)) else None
    worst = None
    for unit, (b, pos) in enumerate(zip(bias, positives)):
        neg = n - pos
        if min(pos, neg) < minority_min or abs(pos - n / 2) / math.sqrt(n / 4) < z_min:
            continue
        weight = weights[unit if len(weights) > 1 else 0] if weights else 1.0
        if weight <= 0:
            continue
        prior = math.log(weight * (pos + 0.5) / (neg + 0.5))
        if worst is None or abs(b - prior) > worst[0]:
            worst = (abs(b - prior), unit, b, prior, pos, weight)
    if worst is None:
        return None, "", {}
    gap, unit, b, prior, pos, weight = worst
    which = f" unit {unit}" if len(bias) > 1 else ""
    target = "log(pos/neg)" if weight == 1.0 else f"log(pos_weight·pos/neg) with pos_weight {num(weight)}"
    detail = f"has bias{which} {num(b, 2)} but the best constant logit {target} is {num(prior, 2)} ({pos} of {n} positive{' in summed soft targets' if soft else ''})"
    return gap, detail, {"bias": b, "log_prior": prior, "positives": pos, "n": n, "unit": unit, "pos_weight": weight}


def class_gap(bias: list[float], counts: list[int], z_min: float):
    n, classes = sum(counts), len(counts)
    if n == 0 or classes < 2 or len(bias) != classes:
        return None, "", {}
    share = 1 / classes
    z = max(abs(c - n * share) / math.sqrt(n * share * (1 - share)) for c in counts)
    if z < z_min:
        return None, "", {}
    # Classes absent from the batch have no usable frequency (an unshuffled batch, a rare
    # class): only the classes seen are compared, centered among themselves.
    seen = [k for k, c in enumerate(counts) if c > 0]
    if len(seen) < 2:
        return None, "", {}
    log_freq = {k: math.log(counts[k] / n) for k in seen}
    mean_log_freq = sum(log_freq.values()) / len(seen)
    mean_bias = sum(bias[k] for k in seen) / len(seen)
    centered_prior = {k: log_freq[k] - mean_log_freq for k in seen}
    centered_bias = {k: bias[k] - mean_bias for k in seen}
    gaps = {k: abs(centered_bias[k] - centered_prior[k]) for k in seen}
    worst = max(gaps, key=gaps.get)
    detail = (f"has centered bias {num(centered_bias[worst], 2)} for class {worst} but its centered log "
              f"frequency is {num(centered_prior[worst], 2)} ({counts[worst]} of {n} samples)")
    return gaps[worst], detail, {"class": worst, "count": counts[worst], "n": n, "class_counts": counts,
                               "imbalance_z": z}
