"""Shared by the loss-call rules: one finding per distinct loss call site."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

LOSS_NAMES = {
    "cross_entropy": "CrossEntropyLoss / F.cross_entropy",
    "nll": "NLLLoss / F.nll_loss",
    "bce": "BCELoss / F.binary_cross_entropy",
    "bce_with_logits": "BCEWithLogitsLoss / F.binary_cross_entropy_with_logits",
    "mse": "MSELoss / F.mse_loss",
    "l1": "L1Loss / F.l1_loss",
    "smooth_l1": "SmoothL1Loss / F.smooth_l1_loss",
    "huber": "HuberLoss / F.huber_loss",
    "kl_div": "KLDivLoss / F.kl_div",
    "soft_margin": "SoftMarginLoss / F.soft_margin_loss",
}


def loss_name(kind: str) -> str:
    return LOSS_NAMES.get(kind, kind)


def first_per_site(calls: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first recorded call of each (loss, where) pair, training calls (gradients
    enabled) before evaluation ones: a script that evaluates before it trains, or
    Lightning's sanity-check validation, must not hide how the training loss is fed."""
    seen: set[tuple[Any, Any]] = set()
    firsts = []
    for call in sorted(calls, key=lambda c: not c.get("grad_enabled", True)):
        key = (call.get("loss"), call.get("where"))
        if key not in seen:
            seen.add(key)
            firsts.append(call)
    return firsts
