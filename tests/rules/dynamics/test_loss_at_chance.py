import math

import numpy as np
from dynamics_rule_data import series, softmax_sgd_losses

from nndoctor.rules.dynamics.loss_at_chance import LossAtChance

BALANCED = [1] * 10


def chance(value=math.log(10), uniform=math.log(10), loss="cross_entropy"):
    classes = round(math.exp(uniform)) if uniform else None
    return {"loss": loss, "value": value, "uniform": uniform, "n_classes": classes, "batches": 20,
            "basis": None if value is None else f"label entropy {value:.2f} of {classes} classes over 20 batches"}


def label_entropy(weights):
    p = np.asarray(weights, dtype=float) / np.sum(weights)
    return float(-(p * np.log(p)).sum())


def lr_groups(lrs):
    return [{"optimizer": "SGD", "group": 0, "lr_series": series(lrs)}]


def first_firing_step(losses, level=math.log(10), uniform=math.log(10), lrs=None, every=10):
    """Judge every `every` steps, as a live run does; the first prefix length that fires."""
    for n in range(every, len(losses) + 1, every):
        m = {"loss_series": series(losses[:n]), "chance_loss": chance(level, uniform)}
        if lrs is not None:
            m["optimizer_groups"] = lr_groups(lrs[:n])
        if LossAtChance().check(m):
            return n
    return None


def test_shuffled_labels_fire_within_100_steps():
    for seed in range(3):
        for lr in (0.01, 0.1, 0.5):
            losses = softmax_sgd_losses(125, lr=lr, seed=seed, shuffled=True, class_weights=BALANCED)
            assert first_firing_step(losses) is not None and first_firing_step(losses) <= 100, (seed, lr)
    [finding] = LossAtChance().check({"loss_series": series([2.302] * 125), "chance_loss": chance()})
    assert finding.rule == "loss-at-chance" and finding.severity == "warning" and finding.step == 0
    assert finding.evidence["steps_at_chance"] == 125 and "2.303" in finding.message
    assert LossAtChance.retractable


def test_healthy_runs_starting_at_chance_never_fire():
    for seed in range(3):
        assert first_firing_step(softmax_sgd_losses(600, seed=seed)) is None
        assert first_firing_step(softmax_sgd_losses(600, seed=seed, batch=1)) is None


def test_slow_but_descending_learner_does_not_fire():
    # 2.30 -> ~2.0 over 600 steps: weak signal, small lr
    for seed in range(3):
        losses = softmax_sgd_losses(600, lr=0.02, signal=0.3, seed=seed)
        assert first_firing_step(losses) is None, seed


def test_warmup_flat_at_chance_does_not_fire_when_the_lr_is_known():
    steps, warmup = 800, 500
    schedule = [min(1.0, (s + 1) / warmup) * 1e-2 for s in range(steps)]
    rng = np.random.default_rng(0)
    # the loss stays at chance while the lr is tiny, then falls once the warm-up bites
    losses = [math.log(10) + 0.01 * rng.normal() - max(0, s - 300) * 0.004 for s in range(steps)]
    assert first_firing_step(losses, lrs=schedule) is None
    assert first_firing_step(losses) is not None  # without the lr it looks exactly like a stuck run


def test_char_lm_unigram_plateau_is_not_chance_but_a_long_misaligned_one_is():
    uniform, unigram = math.log(65), 3.3
    rng = np.random.default_rng(0)
    head = [unigram + (uniform - unigram) * math.exp(-s / 10) for s in range(60)]
    plateau = [unigram + 0.03 * rng.normal() for _ in range(500)]
    healthy = head + plateau + [unigram - 0.002 * s + 0.03 * rng.normal() for s in range(400)]
    assert first_firing_step(healthy, level=unigram, uniform=uniform, every=50) is None
    misaligned = head + [unigram + 0.03 * rng.normal() for _ in range(1200)]
    fired = first_firing_step(misaligned, level=unigram, uniform=uniform, every=50)
    assert fired is not None and 1000 <= fired <= 1150


def test_imbalanced_shuffled_labels_of_a_few_classes_are_caught_like_balanced_ones():
    # The long unigram-plateau allowance is for vocabularies (>= 20 classes): a tabular
    # classifier sitting at its label prior has learned nothing from its inputs.
    weights = [10, 5, 3, 2, 1, 1, 1, 1, 1, 1]
    losses = softmax_sgd_losses(1300, seed=0, shuffled=True, class_weights=weights)
    fired = first_firing_step(losses, level=label_entropy(weights), every=10)
    assert fired is not None and fired <= 250


def test_thresholds():
    flat = [math.log(10)] * 79
    assert LossAtChance().check({"loss_series": series(flat), "chance_loss": chance()}) == []
    assert LossAtChance().check({"loss_series": series(flat + [math.log(10)]), "chance_loss": chance()})
    # a level just inside 2 % below chance is still at chance; 2.5 % below has learned something
    at_edge = [math.log(10) * 0.9801] * 100
    assert LossAtChance().check({"loss_series": series(at_edge), "chance_loss": chance()})
    below = [math.log(10) * 0.975] * 100
    assert LossAtChance().check({"loss_series": series(below), "chance_loss": chance()}) == []
    assert LossAtChance().check({"loss_series": series(flat * 2), "chance_loss": chance()},
                                min_steps_at_chance=200) == []


def test_unknown_chance_level_or_a_run_that_learned_is_silent():
    losses = [2.302] * 100
    assert LossAtChance().check({"loss_series": series(losses), "chance_loss": chance(value=None)}) == []
    learned_then_collapsed = [2.3] * 20 + [0.5] * 100 + [2.3] * 200
    assert LossAtChance().check({"loss_series": series(learned_then_collapsed), "chance_loss": chance()}) == []


def test_plateau_then_drop_below_chance_is_judged_by_the_current_level():
    # seen on SGD lr 0.003: 64 steps just above chance, then a drop to 3 % below it
    rng = np.random.default_rng(0)
    level = 2.244
    losses = [level * 1.03 + 0.02 * rng.normal() for _ in range(64)]
    losses += [level * 0.97 - 0.0002 * s + 0.03 * rng.normal() for s in range(300)]
    assert first_firing_step(losses, level=level) is None


def test_memorised_shuffled_labels_are_caught_when_the_validation_loss_stays_at_chance():
    # The tabular corpus run with shuffled labels: the training loss creeps from 1.90 to 1.865
    # (the MLP memorises noise), the validation loss stays at 1.86-1.87 = the label entropy 1.887.
    rng = np.random.default_rng(0)
    level, steps = 1.887, 228
    losses = [max(level + 0.06 - 0.0003 * s, level - 0.02) + rng.normal(0, 0.03) for s in range(steps)]
    m = {"loss_series": series(losses), "chance_loss": chance(level, math.log(7))}
    assert LossAtChance().check(m) == []  # a significant creep down: a slow learner, for all it knows
    flat = [(38, 1.869), (76, 1.864), (114, 1.862), (152, 1.865), (190, 1.868)]
    m["eval_loss_series"] = series([v for _, v in flat], [s for s, _ in flat])
    [finding] = LossAtChance().check(m)
    judged = finding.evidence["eval_losses_at_chance"]
    assert len(judged) >= 2 and set(judged) <= {v for _, v in flat} and "memorisation" in finding.message
    learning = [(38, 1.80), (76, 1.60), (114, 1.40)]  # held-out loss falling: a slow learner
    m["eval_loss_series"] = series([v for _, v in learning], [s for s, _ in learning])
    assert LossAtChance().check(m) == []
    m["eval_loss_series"] = series([1.869], [190])
    assert LossAtChance().check(m) == []  # one evaluation is not a trend
    assert LossAtChance().check(m, eval_points_min=1)
