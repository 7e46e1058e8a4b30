"""Shared by cannot-overfit-batch and ignores-input: regression targets far from unit scale.

Adam moves every weight by about its learning rate per step, so a default-initialised
network's output grows by roughly 0.01–0.1 per step: targets with an RMS of hundreds
cannot be reached within a preflight budget, whatever the code. The short experiments then
say nothing about the code, and the fix is to standardise the targets.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

REGRESSION_KINDS = {"mse", "l1", "smooth_l1", "huber"}


def regression_target_rms(m: Mapping[str, Any]) -> float | None:
    """RMS of the regression targets from the initial-loss record, or None if unknown."""
    record = m.get("initial_loss") or {}
    if record.get("loss") not in REGRESSION_KINDS or record.get("target_mean") is None:
        return None
    return math.sqrt(record["target_mean"] ** 2 + (record.get("target_std") or 0.0) ** 2)
