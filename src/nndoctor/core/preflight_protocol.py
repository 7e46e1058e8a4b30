"""The preflight experiments' protocol, shared by every framework adapter: how many
samples and steps, when a run may stop early, and the plain-number summaries of a run's
losses that the preflight rules read. Adapters train; this decides what is measured, so
that torch and JAX runs of the same experiment are judged on the same footing.
"""
from __future__ import annotations

import math
from typing import Any

# Overfit budget. 000 §1.4 expects the loss of one batch to drop sharply within 10–100
# updates with a working setup; twice that leaves room for slow learners: healthy tiny MLPs,
# CNNs, LSTMs and transformers were measured to cover 75–99% of the way to the loss floor
# of a 16-sample batch within 200 Adam(1e-3) steps.
DEFAULT_STEPS = 200
# 003 asks for "a very small data set, e.g. two samples"; beyond a few dozen samples the
# test measures capacity rather than wiring, and costs time — the first 16 are used.
MAX_SAMPLES = 16
# Early stop once 95% of the distance to the floor is covered: the loss has clearly
# collapsed, and the slow tail towards exactly 0 would only cost time.
STOP_FRACTION = 0.05
# The two-sample run needs fewer steps than the batch: half the budget.
TWO_SAMPLE_STEP_SHARE = 0.5
# The zero-input copy reaches the label prior within a few dozen Adam steps while a model
# that uses its input is already clearly below it; comparing at 50 steps halves the cost.
COMPARISON_STEPS = 50
CONCLUSIVE_SHARE = 0.5
DETERMINISM_STEPS = 3  # a difference shows in the first updates; more steps only add time
MAX_PROBES = 2  # probing the first and the last sample finds any pairwise dependence cheaply
REFERENCE_LEARNING_RATE = 1e-3  # Adam 1e-3, the reference optimizer (000 §1.1.3)


def finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def stop_level(initial: float, floor: float | None, stop_fraction: float) -> float | None:
    """The loss at which an overfit run may stop, or None when it runs its whole budget."""
    if floor is None or stop_fraction <= 0 or not initial > floor:
        return None
    return floor + stop_fraction * (initial - floor)


def truncate_losses(losses: list[float], stop_at: float | None) -> list[float]:
    """The losses up to the first non-finite one or the first at or below `stop_at`."""
    for index, value in enumerate(losses):
        if not finite(value) or (index > 0 and stop_at is not None and value <= stop_at):
            return losses[: index + 1]
    return losses


def summarise_run(losses: list[float]) -> dict[str, Any]:
    """The plain numbers of one overfit run (see nndoctor.core.measurements.OverfitRun)."""
    kept = [v for v in losses if finite(v)]
    points = [round(f * (len(losses) - 1)) for f in (0, 0.25, 0.5, 0.75, 1)]
    return {
        "initial": losses[0],
        "final": losses[-1],
        "best": min(kept) if kept else losses[-1],
        "steps": len(losses) - 1,
        "non_finite": len(kept) < len(losses),
        # Losses at 0, ¼, ½, ¾ and all of the run: the last quarter tells a slow learner
        # (still falling) from a stuck one (flat).
        "curve_steps": points,
        "curve": [losses[i] for i in points],
    }


def reached_floor(runs: list[dict[str, Any]], use_reference: bool) -> bool:
    batch_run = next((r for r in runs if r["data"] == "batch" and r["reference"] == use_reference), None)
    if batch_run is None:
        return False
    distance = batch_run["initial"] - batch_run["floor"]
    return distance > 0 and batch_run["final"] <= batch_run["floor"] + STOP_FRACTION * distance


def tail_drop(losses: list[float]) -> float | None:
    """Fall of the loss over the last quarter of `losses` (None if not finite)."""
    start = losses[round(0.75 * (len(losses) - 1))]
    drop = start - losses[-1]
    return drop if finite(drop) else None


def clearly_better(real: float, zero: float, floor: float) -> bool:
    """Real inputs already closed half the gap between the zero-input loss and the floor."""
    return zero - floor > 0 and (zero - real) >= CONCLUSIVE_SHARE * (zero - floor)


def loss_differences(first: list[float], second: list[float]) -> list[float]:
    """Relative difference per step of two runs' losses (NaN in both counts as equal)."""
    return [
        abs(a - b) / max(abs(a), abs(b), 1e-12) if a == a and b == b else (0.0 if a != a and b != b else math.inf)
        for a, b in zip(first, second)
    ]
