"""`nndoctor.tune.lr_range(model, loader_or_batches, loss_fn, optimizer)`: a learning-rate
range test that is repeated, then confirmed by a short real sweep.

1. Range test (Smith 2017, fast.ai): on a copy, raise the lr exponentially one training
   batch per step, stop at divergence; repeated over `repeats` batch orders. Each curve
   gives a suggestion (a decade below its smoothed minimum) or none; the median and the
   spread (largest / smallest) are reported, or a refusal when no curve has a valley.
2. Confirmation (003 §4.5.4): from the same initial weights, train copies for
   `budget_steps` at the 10^0.5-grid rates around the suggestion (the window widens while
   the best is at its edge, and upwards until two rates in a row fail), all on the same
   batch orders, and score each on the held-out batches. `confirmed_lr` is the minimum of the
   held-out loss over the grid, interpolated between the lowest point and its neighbours;
   how many orders each rate gets is lr_orders' part: more for the rates tied with the
   best, and for the three the minimum rests on until its position is known.
3. Warm-up (003 §4.5.4): when the confirmed rate spikes early, or the next rate up
   diverges, it is tried again starting at η0/20 and rising linearly to η0 over ~10% of
   an epoch; the advice is given when that trains and scores better.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.workbench import seed_everything
from nndoctor.torch.tune import lr_orders
from nndoctor.torch.tune.batches import collect_batches
from nndoctor.torch.tune.trainer import RunOutcome, TuningTrainer, measured_on_copies
from nndoctor.tune import lr_curve
from nndoctor.tune.results import LrRangeResult, SweepPoint

CALLER = "lr_range()"
# fast.ai's default range test is 100 steps from 1e-7 to 10: enough points per decade for
# a smoothed curve, a few seconds on a small model.
RANGE_STEPS = 100
RANGE_START, RANGE_END = 1e-7, 10.0
REPEATS = 3
# The sweep starts at the suggestion's grid point ± 2 (a decade either way) and runs at
# most this many rates (the window widens while its best is at an edge).
WINDOW_POINTS_EACH_SIDE = 2
MAX_SWEEP_RUNS = 10
# 003 §4.5.4: warm up from η0/20 to η0 over about 10% of an epoch.
WARMUP_START_SHARE, WARMUP_EPOCH_SHARE = 1 / 20, 0.1
CURVE_POINTS = 40
# The usable range: stable rates that keep at least half of the best rate's held-out drop.
USABLE_SHARE = 0.5
def lr_range(model: Any, loader_or_batches: Any, loss_fn: Any, optimizer: Any, *, repeats: int = REPEATS,
             range_steps: int = RANGE_STEPS, budget_steps: int | None = None, max_batches: int = 64,
             confirm: bool = True, seed: int = 0, epoch_batches: int | None = None) -> LrRangeResult:
    """Range test on copies, repeated over `repeats` batch orders, then a confirming sweep
    of `budget_steps` (default: `range_steps`) per rate; nothing of the model, the
    optimizer or the RNG states is left changed. `epoch_batches` (batches per epoch, for
    the warm-up length) defaults to the loader's length. Returns an LrRangeResult
    (`.report()` judges it with the tuning rules)."""
    for name, value in (("repeats", repeats), ("range_steps", range_steps), ("max_batches", max_batches)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{CALLER}: {name} must be a positive int, got {value!r}")
    if range_steps < 10:
        raise UsageError(f"{CALLER}: range_steps must be at least 10 to draw a curve, got {range_steps}")
    batches = collect_batches(loader_or_batches, max_batches=max_batches, caller=CALLER)
    if epoch_batches is not None:
        batches.epoch_batches = epoch_batches
    trainer = TuningTrainer(model, batches, loss_fn, optimizer, CALLER)
    budget = budget_steps if budget_steps is not None else range_steps
    started = time.perf_counter()
    with measured_on_copies(model, optimizer):
        result = _range_test(trainer, repeats, range_steps, budget, seed)
        if confirm:
            _confirm(trainer, result, seed)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _range_test(trainer: TuningTrainer, repeats: int, steps: int, budget: int, seed: int) -> LrRangeResult:
    start = min(RANGE_START, trainer.user_lr / 1e3) if trainer.user_lr > 0 else RANGE_START
    end = max(RANGE_END, trainer.user_lr * 100)
    lrs = lr_curve.exponential_schedule(start, end, steps)
    curves, readings = [], []
    for repeat in range(repeats):
        repeat_seed = lr_orders.order_seed(seed, lr_orders.RANGE_STREAM, repeat)
        seed_everything(repeat_seed)
        model, optimizer = trainer.fresh()
        stop = lr_curve.DivergenceStop()
        losses = trainer.train(model, optimizer, lambda step: lrs[step], trainer.order(repeat_seed, steps), stop.should_stop)
        curves.append(losses)
        readings.append(lr_curve.read_curve(lrs, losses))
    suggestions = [r.suggestion for r in readings]
    found = [s for s in suggestions if s is not None]
    # A majority of the repeats must find a valley: one lucky curve is not a suggestion.
    refusal = None
    if len(found) * 2 <= repeats:
        refusal = next(r.refusal for r in readings if r.suggestion is None)
    centre, spread = lr_curve.combine(found) if found and refusal is None else (None, None)
    result = LrRangeResult(
        optimizer=trainer.optimizer_name, user_lr=trainer.user_lr, group_factors=trainer.factors,
        range_lrs=[], range_losses=[], suggestions=suggestions, suggestion=centre, suggestion_spread=spread,
        refusal=refusal, budget_steps=budget, initial_held_out_loss=trainer.initial_held_out(seed),
    )
    _attach_curve(lrs, curves, result)
    result.range_schedule = lrs
    result.range_raw_losses = curves
    return result


def _attach_curve(lrs: list[float], curves: list[list[float]], result: LrRangeResult) -> None:
    """The median of the smoothed curves where at least half of them still run."""
    window = max(3, int(round(lr_curve.SMOOTHING_WINDOW_SHARE * len(lrs))))
    smoothed = [lr_curve.smooth(c, window) for c in curves]
    length = sorted(len(s) for s in smoothed)[len(smoothed) // 2]
    if length == 0:
        return
    median = [float(np.median([s[i] for s in smoothed if len(s) > i])) for i in range(length)]
    points = np.unique(np.linspace(0, length - 1, min(CURVE_POINTS, length)).round().astype(int))
    result.range_lrs = [lrs[i] for i in points]
    result.range_losses = [median[i] for i in points]


def _point(lr: float, outcome: RunOutcome, initial: float, budget: int, warmup: bool = False) -> SweepPoint:
    losses = outcome.train_losses
    spike = lr_orders.mostly_spiked(outcome.spiked_orders, outcome.orders)
    held = outcome.held_out if outcome.finite else None
    final = losses[-1] if losses and math.isfinite(losses[-1]) else None
    return SweepPoint(lr=lr, held_out_loss=held, final_train_loss=final,
                      stable=held is not None and held < (1 - lr_curve.MIN_DROP_SHARE) * initial and not spike,
                      early_spike=spike, warmup=warmup, spiked_orders=outcome.spiked_orders)


def _confirm(trainer: TuningTrainer, result: LrRangeResult, seed: int) -> None:
    budget = result.budget_steps
    orders = [lr_orders.order_seed(seed, lr_orders.CONFIRM_STREAM, i) for i in range(lr_orders.ORDERS)]
    points: dict[float, SweepPoint] = {}
    scores: dict[float, list[float]] = {}

    def measure(exponent: float) -> None:
        exponent = round(exponent, 2)
        if exponent in points or not lr_curve.GRID_LIMITS[0] <= exponent <= lr_curve.GRID_LIMITS[1]:
            return
        lr = 10**exponent
        scores[exponent] = []
        outcome = lr_orders.runs(trainer, lambda step: lr, orders, budget, scores[exponent])
        points[exponent] = _point(lr, outcome, result.initial_held_out_loss, budget)

    step = lr_curve.GRID_STEP_DECADES
    if result.suggestion is not None:
        centre = lr_curve.grid_exponent(result.suggestion)
        window = [centre + offset * step for offset in range(-WINDOW_POINTS_EACH_SIDE, WINDOW_POINTS_EACH_SIDE + 1)]
    else:
        # No valley to start from: 003's whole grid 10^{-5, -4.5, …, 0} decides alone.
        count = int(round((lr_curve.GRID_HIGH_EXPONENT - lr_curve.GRID_LOW_EXPONENT) / step)) + 1
        window = [lr_curve.GRID_LOW_EXPONENT + i * step for i in range(count)]
    for exponent in window:
        measure(exponent)
    while len(points) < max(MAX_SWEEP_RUNS, len(window) + 2):
        count = len(points)
        stable = [e for e, p in points.items() if p.stable]
        lowest, highest = min(points), max(points)
        best = min(stable, key=lambda e: points[e].held_out_loss) if stable else None
        if best is not None and best == lowest:
            measure(lowest - step)
        elif any(points[e].stable for e in sorted(points)[-2:]):
            # Up until two rates in a row fail: a rate that spikes can sit below one that
            # escapes a plateau (a small transformer with SGD learns only from ~0.3).
            measure(highest + step)
        if len(points) == count:
            break
    lr_orders.race(trainer, result, points, scores, seed)
    lr_orders.refine_vertex(trainer, result, points, scores, seed)
    _summarise(trainer, result, points, scores, orders)


def _summarise(trainer: TuningTrainer, result: LrRangeResult, points: dict[float, SweepPoint],
               scores: dict[float, list[float]], orders: list[int]) -> None:
    budget = result.budget_steps
    exponents = sorted(points)
    stable = [e for e in exponents if points[e].stable]
    user = trainer.user_lr
    if user > 0 and not any(abs(math.log10(user) - e) < 0.05 for e in exponents):
        user_point = _point(user, lr_orders.runs(trainer, lambda step: user, orders, budget), result.initial_held_out_loss, budget)
    else:
        user_point = points[min(exponents, key=lambda e: abs(e - math.log10(user)))] if user > 0 else None
    result.user_held_out_loss = user_point.held_out_loss if user_point is not None else None
    result.sweep = [points[e] for e in exponents]
    if not stable:
        result.sweep_failure = (f"no rate of the sweep {10**exponents[0]:.2g} … {10**exponents[-1]:.2g} lowered the "
                                f"held-out loss {lr_curve.MIN_DROP_SHARE:.0%} below its start "
                                f"{result.initial_held_out_loss:.4g} in {budget} steps without diverging")
        return
    best = min(stable, key=lambda e: points[e].held_out_loss)
    vertex = lr_curve.interpolated_minimum(*lr_orders.vertex_values(result, points))
    result.best_grid_lr = 10**best
    result.best_held_out_loss = points[best].held_out_loss
    result.confirmed_lr = 10 ** (vertex if vertex is not None else best)
    terms = lr_orders.vertex_terms(result, points, scores) if vertex is not None else None
    if terms is not None:
        error = lr_curve.vertex_standard_error(lr_curve.GRID_STEP_DECADES, terms[1], terms[2])
        result.confirmed_lr_error = 10**error if math.isfinite(error) else None
    result.sweep_orders = {10**e: len(scores[e]) for e in exponents}
    # "Not diverging" for a long run also means keeping most of the best rate's progress:
    # a rate that ends barely below the start is at the edge, not in the usable range.
    drop = result.initial_held_out_loss - points[best].held_out_loss
    usable = [e for e in stable if result.initial_held_out_loss - points[e].held_out_loss >= USABLE_SHARE * drop]
    result.largest_stable_lr = 10 ** usable[-1]
    result.largest_stable_is_limit = usable[-1] == exponents[-1]
    if result.suggestion is not None:
        result.suggestion_error = result.suggestion / result.confirmed_lr
    result.warmup = _warmup_probe(trainer, result, points, best, orders)


def _warmup_probe(trainer: TuningTrainer, result: LrRangeResult, points: dict[float, SweepPoint], best: float,
                  orders: list[int]) -> dict[str, Any] | None:
    """The confirmed rate if it spiked early, else the first rate above the stable range
    if it diverged early: retried with 003's warm-up."""
    budget = result.budget_steps
    above = [e for e in sorted(points) if e > best and not points[e].stable]
    if points[best].early_spike:
        target = best
    elif above and points[above[0]].early_spike:
        target = above[0]
    else:
        return None
    epoch = trainer.batches.epoch_batches or len(trainer.batches.train)
    steps = int(min(max(1, round(WARMUP_EPOCH_SHARE * epoch)), max(1, budget // 4)))
    peak = 10**target

    def schedule(step: int) -> float:
        if step >= steps:
            return peak
        return peak * (WARMUP_START_SHARE + (1 - WARMUP_START_SHARE) * step / steps)

    warmed = _point(peak, lr_orders.runs(trainer, schedule, orders, budget), result.initial_held_out_loss, budget, warmup=True)
    without = points[target]
    helps = warmed.stable and (without.held_out_loss is None or warmed.held_out_loss < without.held_out_loss) and \
        (result.best_held_out_loss is None or warmed.held_out_loss <= result.best_held_out_loss or target == best)
    return {"lr": peak, "warmup_steps": steps, "start_lr": peak * WARMUP_START_SHARE,
            "held_out_with": warmed.held_out_loss, "held_out_without": without.held_out_loss,
            "stable_with": warmed.stable, "helps": bool(helps)}
