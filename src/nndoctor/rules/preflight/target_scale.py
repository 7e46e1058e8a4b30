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

from nndoctor.core.loss_expectations import REGRESSION_KINDS

# Targets with an RMS beyond this cannot be fitted by 50–200 Adam steps at all: Adam grows a
# fresh output by ~0.01–0.1 per step. Read by cannot-overfit-batch and ignores-input, so that
# one setting moves both (each has it as its `target_rms_max` threshold).
TARGET_RMS_MAX = 10.0


def regression_target_rms(m: Mapping[str, Any]) -> float | None:
    """RMS of the regression targets from the initial-loss record, or None if unknown."""
    record = m.get("initial_loss") or {}
    if record.get("loss") not in REGRESSION_KINDS or record.get("target_mean") is None:
        return None
    return math.sqrt(record["target_mean"] ** 2 + (record.get("target_std") or 0.0) ** 2)
