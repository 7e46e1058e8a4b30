"""How many batch orders each rate of lr_range's confirming sweep is trained on.

The held-out loss of one short run moves with the order of the batches; the sweep scores
each rate by its mean over orders, and gives more orders where they change the answer:
to the rates not yet told apart from the best (a race), and to the three rates the
interpolated minimum rests on, until its position is known (the vertex refinement).
Every rate with n orders has had the same n orders, drawn from a stream of the seed.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from nndoctor.torch.tune.trainer import RunOutcome, TuningTrainer, spiked
from nndoctor.tune import lr_curve
from nndoctor.tune.results import LrRangeResult, SweepPoint

# Each rate of the sweep is trained on three batch orders and scored by the mean: the held-out
# loss of one short run moves with the order enough to swap neighbouring grid points (on the
# CNN/SGD benchmark task the confirmed rate's spread over seeds was 1.9× with two orders, 1.5× with three).
ORDERS = 3
# When the order moves a rate's score more than the rate does, three orders can miss a
# rate that escapes a plateau on a third of the orders (the small transformer with SGD at
# lr 0.3: the mean over 12 orders is the best, over 3 it is often not). The best rate and
# the rates within RACE_Z standard errors of it get ORDERS more orders, the same for all of
# them, until the best stands apart or they have RACE_MAX_ORDERS.
# On a plateau (no rate lowers the held-out loss by PLATEAU_DROP_SHARE within the budget)
# the escapes are rare events that a standard error of a few orders does not see coming:
# every stable rate gets all RACE_MAX_ORDERS orders.
RACE_Z = 2.0
RACE_MAX_ORDERS = 12
PLATEAU_DROP_SHARE = 0.2
# Near a flat minimum the interpolated vertex moves with the order noise of its three points
# (the LSTM/AdamW benchmark task: 0.2 decades of spread between seeds with 3–12 orders, its
# held-out loss within 0.02 over half a decade while one order scatters it by 0.013). The
# three get orders, each time to the one whose noise moves the vertex most, until the
# vertex's standard error (delta method) is at most VERTEX_ERROR_DECADES (5% in lr), or each
# has VERTEX_MAX_ORDERS. The estimate of that error is itself noisy, and stopping on it
# makes the realised error larger: a scatter estimated from 3 orders can be small by luck
# (2 degrees of freedom). So each rate's scatter is at least the pooled scatter of the
# three, and none stops before VERTEX_MIN_ORDERS. Simulated on 40 cached orders per rate of
# the LSTM benchmark tasks, five seeds agree within 1.5× 83% / 73% of the time (AdamW /
# SGD) with each rate's own scatter and 3 orders, 98% / 97% pooled with 9 (~220 runs per
# seed there; a sharp minimum stops at 9 orders).
VERTEX_ERROR_DECADES = 0.02
VERTEX_MIN_ORDERS = 9
VERTEX_MAX_ORDERS = 72
# Batch orders come from independent streams per (seed, purpose, index): with `seed + i`
# seeds 0 and 1 would share all orders but one.
RANGE_STREAM, CONFIRM_STREAM = 1, 2


def order_seed(seed: int, stream: int, index: int) -> int:
    """The seed of batch order `index` of a stream for a `seed` of lr_range."""
    return int(np.random.SeedSequence([seed % 2**64, stream, index]).generate_state(1, np.uint64)[0] % 2**63)


def mostly_spiked(spiked_orders: int, orders: int) -> bool:
    """A rate spikes early when most of its batch orders do: one order that spikes and
    recovers is the order's bad luck (the LSTM/AdamW benchmark task at lr 0.1 spiked on one
    of three orders for one seed, and judging by that one pulled its confirmed rate 1.9×
    away from the other seeds'), while a rate that spikes on most orders needs warm-up."""
    return spiked_orders * 2 > orders


def runs(trainer: TuningTrainer, schedule: Any, order_seeds: list[int], budget: int,
         scores: list[float] | None = None) -> RunOutcome:
    """The same rate on each batch order (of `budget` steps, drawn and run with its seed):
    the first run's losses, the mean held-out score (a diverged order makes the rate
    diverged), how many orders spiked early; each order's score is appended to `scores`."""
    outcomes = [trainer.run(schedule, trainer.order(s, budget), s) for s in order_seeds]
    finite = all(o.finite for o in outcomes)
    if scores is not None:
        scores.extend(o.held_out if o.finite else math.inf for o in outcomes)
    held_out = float(np.mean([o.held_out for o in outcomes])) if finite else math.inf
    spikes = sum(spiked(o.train_losses, o.finite, budget) for o in outcomes)
    return RunOutcome(outcomes[0].train_losses, held_out, finite, spikes, len(outcomes))


def _standard_error(values: list[float]) -> float:
    values = lr_curve.fenced(values)[0]
    return float(np.std(values, ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.inf


def race(trainer: TuningTrainer, result: LrRangeResult, points: dict[float, SweepPoint],
         scores: dict[float, list[float]], seed: int) -> None:
    """More batch orders for the best stable rate and those not yet told apart from it."""
    start = result.initial_held_out_loss
    while True:
        stable = [e for e in points if points[e].stable]
        if len(stable) < 2:
            return
        best = min(stable, key=lambda e: points[e].held_out_loss)
        best_mean, best_error = points[best].held_out_loss, _standard_error(scores[best])
        if best_mean > (1 - PLATEAU_DROP_SHARE) * start:
            racing = [e for e in stable if len(scores[e]) < RACE_MAX_ORDERS]
        else:
            racing = [best] + [e for e in stable if e != best and points[e].held_out_loss - best_mean
                               < RACE_Z * math.hypot(_standard_error(scores[e]), best_error)]
            if len(racing) == 1 or any(len(scores[e]) >= RACE_MAX_ORDERS for e in racing):
                return
        if not racing:
            return
        for exponent in racing:
            add_orders(trainer, result, points, scores, exponent, seed)


def add_orders(trainer: TuningTrainer, result: LrRangeResult, points: dict[float, SweepPoint],
               scores: dict[float, list[float]], exponent: float, seed: int) -> None:
    """ORDERS more batch orders for one rate: the next ones of the seed's stream, so every
    rate with n orders has the same n; its mean and stability updated."""
    done = len(scores[exponent])
    lr = 10**exponent
    seeds = [order_seed(seed, CONFIRM_STREAM, i) for i in range(done, done + ORDERS)]
    outcome = runs(trainer, lambda step: lr, seeds, result.budget_steps, scores[exponent])
    point = points[exponent]
    point.spiked_orders += outcome.spiked_orders
    point.early_spike = mostly_spiked(point.spiked_orders, len(scores[exponent]))
    if not outcome.finite:
        point.held_out_loss, point.stable = None, False
        return
    values, point.far_off_orders = lr_curve.fenced(scores[exponent])
    point.held_out_loss = float(np.mean(values))
    point.stable = point.held_out_loss < (1 - lr_curve.MIN_DROP_SHARE) * result.initial_held_out_loss \
        and not point.early_spike


def vertex_values(result: LrRangeResult, points: dict[float, SweepPoint]) -> tuple[list[float], list[float]]:
    """The sweep's exponents and the values its minimum is interpolated on. Unstable rates
    count as no progress (the held-out loss at the start, or worse): a run that spiked and
    recovered by luck is not a rate to train at, and a diverged neighbour still bounds the
    parabola."""
    start = result.initial_held_out_loss
    exponents = sorted(points)
    return exponents, [points[e].held_out_loss if points[e].stable else max(start, points[e].held_out_loss or start)
                       for e in exponents]


def vertex_terms(result: LrRangeResult, points: dict[float, SweepPoint],
                 scores: dict[float, list[float]]) -> tuple[list[float], list[float], list[float]] | None:
    """The best stable rate and its two neighbours on the grid: their exponents, values and
    the variances of their means (a rate's scatter over orders, at least the three's pooled
    one, over its number of orders; none for an unstable neighbour: its value is a bound,
    not a measurement); None when the best is at an edge of the sweep."""
    exponents, values = vertex_values(result, points)
    stable = [i for i, e in enumerate(exponents) if points[e].stable]
    if not stable:
        return None
    best = min(stable, key=lambda i: values[i])
    if best == 0 or best == len(exponents) - 1:
        return None
    trio = exponents[best - 1: best + 2]
    if any(abs(b - a - lr_curve.GRID_STEP_DECADES) > 1e-6 for a, b in zip(trio, trio[1:])):
        return None
    measured = [e for e in trio if points[e].stable and len(scores[e]) > 1]
    if not measured:
        return trio, values[best - 1: best + 2], [math.inf if points[e].stable else 0.0 for e in trio]
    spread = {e: float(np.var(lr_curve.fenced(scores[e])[0], ddof=1)) for e in measured}
    pooled = sum(spread[e] * (len(scores[e]) - 1) for e in measured) / sum(len(scores[e]) - 1 for e in measured)
    variances = [(max(spread[e], pooled) / len(scores[e]) if e in measured else math.inf)
                 if points[e].stable else 0.0 for e in trio]
    return trio, values[best - 1: best + 2], variances


def refine_vertex(trainer: TuningTrainer, result: LrRangeResult, points: dict[float, SweepPoint],
                  scores: dict[float, list[float]], seed: int) -> None:
    """More orders around the minimum until its interpolated position is known to
    VERTEX_ERROR_DECADES: each time for the rate of the three whose noise moves the vertex
    most per added order (its term g²·var shrinks by the factor n / (n + ORDERS))."""
    step = lr_curve.GRID_STEP_DECADES
    while True:
        terms = vertex_terms(result, points, scores)
        if terms is None:
            return
        trio, values, variances = terms
        open_ = [i for i, e in enumerate(trio) if points[e].stable and len(scores[e]) < VERTEX_MAX_ORDERS]
        if not open_:
            return
        error = lr_curve.vertex_standard_error(step, values, variances)
        few = [i for i in open_ if len(scores[trio[i]]) < VERTEX_MIN_ORDERS]
        if error <= VERTEX_ERROR_DECADES and not few:
            return
        if few or math.isinf(error):  # too few orders, a tie (no curvature): the fewest orders first
            pick = min(few or open_, key=lambda i: len(scores[trio[i]]))
        else:
            gradient = lr_curve.vertex_gradient(step, values)
            pick = max(open_, key=lambda i: gradient[i] ** 2 * variances[i] / (len(scores[trio[i]]) + ORDERS))
        add_orders(trainer, result, points, scores, trio[pick], seed)
