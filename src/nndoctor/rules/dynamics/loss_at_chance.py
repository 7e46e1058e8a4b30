from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._lr import warmup_end
from nndoctor.rules.dynamics._series import block_levels, block_noise, fitted_descent, recent_points, rounded, trimmed_mean


@register
class LossAtChance(Rule):
    """The training loss sits at the level of a model that ignores its inputs.

    What it detects:
        The training loss compared with the loss of the best constant predictor
        (`chance_loss`): ln C for cross-entropy over C balanced classes, the label entropy
        for imbalanced ones, the mean binary entropy of the positive rates for BCE, the
        target variance for MSE. It fires when the loss (levels of blocks of 20 steps) has
        stayed in a narrow band around that level for a stretch of steps, has never been
        clearly below it, and shows no significant downward trend (a slow downward creep
        counts as "at chance" when the validation losses of the stretch also sit at chance
        and do not fall: the model memorises shuffled labels, it does not learn): `min_steps_at_chance` steps when the chance level
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
    optional = ("optimizer_groups", "eval_loss_series")
    # A state: a loss that later falls below chance contradicts it (a slow start, not a bug).
    retractable = True

    def check(
        self,
        m: Mapping[str, Any],
        *,
        band_below_fraction: float = 0.02,  # 2 % of ln 10 is 0.05 nats: a model that gained that much has learned something
        band_above_fraction: float = 0.05,  # SGD on shuffled labels hovers a little above chance (lr 0.5: +2 %)
        min_steps_at_chance: int = 80,  # the shuffled-label run must be caught within ~100 steps
        prior_plateau_steps: int = 1000,  # a char LM rests on its unigram entropy for tens to hundreds of steps (see below)
        prior_plateau_min_classes: int = 20,  # vocabularies (characters ~30+, words thousands); tabular tasks have a few classes
        descent_min_fraction: float = 0.005,  # a fitted fall of 0.5 % of the level over the stretch...
        descent_t_min: float = 2.5,  # ...that is 2.5 standard errors beyond noise: a slow learner, not a stuck one
        current_points: int = 40,  # the level now: 40 losses average out batch noise yet follow a recent drop
        min_blocks: int = 3,  # levels judged: the stretch needs a few independent block levels, not one average
        eval_points_min: int = 2,  # two validation losses at chance, not falling: held-out data learned nothing
    ) -> list[Finding]:
        chance = m["chance_loss"]
        level = chance.get("value")
        series = m["loss_series"]
        if level is None or not math.isfinite(level) or level <= 1e-6 or int(series.get("count", 0)) < min_steps_at_chance:
            return []
        low, high = level * (1 - band_below_fraction), level * (1 + band_above_fraction)
        # Noisy losses (small batches, per-sample SGD, imbalanced labels) move a level of 20
        # steps by more than the band: blocks grow until the standard deviation of a block
        # level is at most a quarter of the band's half-width, and the band is widened by 2
        # of those deviations, so noise can fake neither "at chance" nor "below it".
        noise = block_noise(block_levels(series, 20))
        block_points = max(20, math.ceil(20 * (8 * noise / (high - low)) ** 2))
        blocks = block_levels(series, block_points)
        if len(blocks) < min_blocks:
            return []
        margin = 2 * noise * math.sqrt(20 / block_points)
        band_low, band_high = low, high  # for the current level: one comparison, no widening
        low, high = low - margin, high + margin
        if min(value for _, _, value in blocks) < low:
            return []  # it was below chance once: it learned (a later rise is loss-diverging's)
        stretch_start = _stretch_start(blocks, low, high)
        if stretch_start is None:
            return []
        # The stretch counts from where the loss reached the chance level (within
        # `band_below_fraction` above it): the fall onto it from above is the model learning
        # the label frequencies (imbalanced classes) or shrinking its initial logits, which a
        # model with shuffled labels does too, and a slow learner is still doing at step 100.
        reached = next((first for first, _, value in blocks
                        if first >= stretch_start and value <= level * (1 + band_below_fraction)), None)
        if reached is None:
            return []
        warmup_done = warmup_end(m.get("optimizer_groups") or [])
        counted_from = max(reached, warmup_done if warmup_done is not None else reached)
        last_step = int(series["recent"][-1][0])
        # Why two lengths: a chance level below where an untrained model starts (label
        # entropy < ln C) is reached by learning the label frequencies alone. A healthy
        # character-level language model does exactly that first — its loss falls from
        # ln V to the unigram entropy and rests there before it learns to use the context —
        # so a long stretch is required there. With balanced classes the untrained model
        # already starts at chance, and staying there means nothing was learned at all.
        # Only a many-class output (a vocabulary) has such a plateau; a tabular or image
        # classifier with a few imbalanced classes, or a regression that learned the mean,
        # has no context left to learn once it sits at the prior.
        uniform = chance.get("uniform")
        learned_prior = (uniform is not None and uniform > band_high) or (uniform is None and blocks[0][2] > band_high)
        vocabulary = int(chance.get("n_classes") or 0) >= prior_plateau_min_classes
        needed = prior_plateau_steps if learned_prior and vocabulary else min_steps_at_chance
        steps = last_step - counted_from + 1
        if steps < needed:
            return []
        window = [p for p in recent_points(series) if p[0] >= counted_from]
        # The level now: the last `current_points` losses, against the band itself.
        recent = trimmed_mean([v for _, v in window[-current_points:]]) if window else math.nan
        if not band_low <= recent <= band_high:
            return []
        descent, error = fitted_descent(window)
        held_out = _held_out_at_chance(m.get("eval_loss_series"), counted_from, band_low, band_high,
                                       descent_min_fraction * level, eval_points_min)
        if descent >= descent_min_fraction * level and descent >= descent_t_min * error and held_out is None:
            return []  # still going down, slowly: not stuck (unless held-out data says it is memorising)
        basis = chance.get("basis") or chance.get("loss") or "constant predictor"
        validation = ("" if held_out is None else
                      f" The validation loss stayed at chance too ({num(held_out[0], 4)} → {num(held_out[-1], 4)} over "
                      f"{len(held_out)} evaluations): the slow fall of the training loss is memorisation, not learning.")
        return [self.finding(
            f"the training loss has stayed at {num(recent, 4)} for {count(steps)} steps (steps {counted_from}–{last_step}), "
            f"within {percent(band_below_fraction, 0)} below / {percent(band_above_fraction, 0)} above the chance level {num(level, 4)} "
            f"({basis}); threshold {count(needed)} steps. The model predicts no better than the label frequencies."
            + validation,
            step=counted_from,
            evidence={"chance_level": rounded(level), "recent_loss": rounded(recent), "steps_at_chance": steps,
                      "band": [rounded(low), rounded(high)], "required_steps": needed,
                      "learned_prior_first": learned_prior, "loss": chance.get("loss"),
                      "n_classes": chance.get("n_classes"), "warmup_end_step": warmup_done,
                      "eval_losses_at_chance": None if held_out is None else [rounded(v) for v in held_out]},
        )]


def _held_out_at_chance(series: Mapping[str, Any] | None, start: int, low: float, high: float,
                        fall_max: float, points_min: int) -> list[float] | None:
    """The validation losses since `start` when every one lies in the chance band and they
    did not fall (by `fall_max`): a training loss that still creeps down is then fitting
    noise (shuffled labels are memorised slowly), not learning. None otherwise."""
    if not series or not series.get("count"):
        return None
    values = [v for s, v in recent_points(series) if s >= start]
    if len(values) < points_min or not all(low <= v <= high for v in values):
        return None
    return values if values[0] - min(values) < fall_max else None


def _stretch_start(blocks: Sequence[tuple[int, int, float]], low: float, high: float) -> int | None:
    """First step of the final run of blocks whose level lies within [low, high]."""
    start = None
    for first, _, value in reversed(blocks):
        if not low <= value <= high:
            break
        start = first
    return start
