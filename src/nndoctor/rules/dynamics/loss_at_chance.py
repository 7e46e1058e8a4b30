from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, is_complete, recent_points, rounded, smoothed_history, trimmed_mean


@register
class LossAtChance(Rule):
    """The training loss sits at the level of a model that ignores its inputs.

    What it detects:
        The training loss compared with the loss of the best constant predictor
        (`chance_loss`): ln C for cross-entropy over C balanced classes, the label entropy
        for imbalanced ones, the mean binary entropy of the positive rates for BCE, the
        target variance for MSE. It fires when the (smoothed) loss has stayed within
        `band_fraction` of that level for a stretch of steps, has never been clearly below
        it, and shows no downward trend: `min_steps_at_chance` steps when the chance level
        is also where an untrained model starts (balanced classes), `prior_plateau_steps`
        when the model first had to learn the label frequencies to get there. Steps during
        a learning-rate warm-up do not count.

    Why it matters:
        A model at the chance level has learned nothing about the relation between inputs
        and targets: only, at best, how often each label occurs. Training can go on for
        hours like that with no error, and the validation accuracy is the majority-class
        rate. The first loss should be near chance (003 §4.5.3 #8); it must then go below it
        — a model trained on real data must beat one trained on random or zero inputs
        (003 §4.5.2 #4, §4.5.3 #9).

    Likely causes:
        - Labels shuffled independently of the inputs, or inputs and labels loaded in different orders (000 §2.2).
        - Targets misaligned with the inputs (an off-by-one shift, a merge that reordered rows).
        - Inputs that carry no signal: all zeros, a constant image, the wrong tensor passed to the model.
        - A learning rate so low, or gradients so small, that nothing moves (see params-not-updated, update-ratio-low).

    Fixes:
        - Print a few (input, label) pairs straight from the batch the model sees and check them by hand (000 §2.2).
        - Check that the model can overfit 2 samples (`nndoctor run --preflight`, 003 §4.5.3 #7); if it cannot, the loop is broken.
        - Compare with a run on zero inputs: if the loss is the same, the inputs never reach the model (003 §4.5.3 #9).

    Example:
        loss-at-chance: the training loss has stayed at 2.303 for 100 steps (steps 0–99),
        within 2% of the chance level 2.303 (label entropy 2.30 of 10 classes over 20
        batches); threshold 80 steps.
    """

    id = "loss-at-chance"
    title = "Training loss at chance level"
    severity = "warning"
    area = "dynamics"
    requires = ("loss_series", "chance_loss")
    # A state: a loss that later falls below chance contradicts it (a slow start, not a bug).
    retractable = True

    def check(
        self,
        m: Mapping[str, Any],
        *,
        band_fraction: float = 0.02,  # 2 % of ln 10 is 0.05 nats: a model that gained that much has learned something
        min_steps_at_chance: int = 80,  # the shuffled-label run must be caught within ~100 steps
        prior_plateau_steps: int = 1000,  # a char LM rests on its unigram entropy for tens to hundreds of steps (see below)
        descent_fraction_of_band: float = 0.5,  # a fitted fall of half the band over the stretch is a slow learner
    ) -> list[Finding]:
        chance = m["chance_loss"]
        level = chance.get("value")
        series = m["loss_series"]
        if level is None or not math.isfinite(level) or level <= 1e-6 or int(series.get("count", 0)) < min_steps_at_chance:
            return []
        band = band_fraction * level
        smooth = smoothed_history(series)
        if not smooth or min(value for _, _, value in smooth) < level - band:
            return []  # it was below chance once: it learned (a later rise is loss-diverging's)
        stretch_start = _stretch_start(smooth, level, band)
        if stretch_start is None:
            return []
        warmup_end = _warmup_end(m.get("optimizer_groups") or [])
        counted_from = max(stretch_start, warmup_end if warmup_end is not None else stretch_start)
        last_step = smooth[-1][1]
        # Why two lengths: a chance level below where an untrained model starts (label
        # entropy < ln C) is reached by learning the label frequencies alone. A healthy
        # character-level language model does exactly that first — its loss falls from
        # ln V to the unigram entropy and rests there before it learns to use the context —
        # so a long stretch is required there. With balanced classes the untrained model
        # already starts at chance, and staying there means nothing was learned at all.
        uniform = chance.get("uniform")
        start = trimmed_mean([v for _, v in all_points(series)[:20]])
        learned_prior = (uniform is not None and uniform - level > band) or (uniform is None and start > level + band)
        needed = prior_plateau_steps if learned_prior else min_steps_at_chance
        steps = last_step - counted_from + 1
        if steps < needed:
            return []
        window = [p for p in recent_points(series) if p[0] >= counted_from]
        recent = trimmed_mean([v for _, v in window])
        if not window or abs(recent - level) > band:
            return []
        descent = _fitted_descent(window)
        if descent > descent_fraction_of_band * band:
            return []  # still going down, slowly: not stuck
        basis = chance.get("basis") or chance.get("loss") or "constant predictor"
        return [self.finding(
            f"the training loss has stayed at {recent:.4g} for {steps:,} steps (steps {counted_from}–{last_step}), "
            f"within {band_fraction:.0%} of the chance level {level:.4g} ({basis}); threshold {needed:,} steps. "
            "The model predicts no better than the label frequencies.",
            step=counted_from,
            evidence={"chance_level": rounded(level), "recent_loss": rounded(recent), "steps_at_chance": steps,
                      "band": rounded(band), "required_steps": needed, "learned_prior_first": learned_prior,
                      "loss": chance.get("loss"), "n_classes": chance.get("n_classes"),
                      "warmup_end_step": warmup_end},
        )]


def _stretch_start(smooth: Sequence[tuple[int, int, float]], level: float, band: float) -> int | None:
    """First step of the final run of smoothed buckets within the band around `level`."""
    start = None
    for first, _, value in reversed(smooth):
        if abs(value - level) > band:
            break
        start = first
    return start


def _warmup_end(groups: Sequence[Mapping[str, Any]]) -> int | None:
    """The first step at which every param group's lr reached 90 % of its peak so far: a
    warm-up that is still rising ends 'now', so no step of it counts as stuck."""
    ends = []
    for group in groups:
        lr = group.get("lr_series")
        if not lr or not lr.get("count"):
            continue
        if is_complete(lr):
            points = all_points(lr)
        else:
            points = [(int(b[0]), float(b[5])) for b in lr.get("history", [])] + recent_points(lr)
        peak = max(value for _, value in points)
        if peak > 0:
            ends.append(next(step for step, value in points if value >= 0.9 * peak))
    return max(ends) if ends else None


def _fitted_descent(points: Sequence[tuple[int, float]]) -> float:
    """How much a least-squares line through the points falls from the first to the last."""
    if len(points) < 3:
        return 0.0
    xs = [float(s) for s, _ in points]
    ys = [v for _, v in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx <= 0:
        return 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sxx
    return -slope * (xs[-1] - xs[0])
