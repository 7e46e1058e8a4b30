from dynamics_rule_data import series

from nndoctor.rules.dynamics.overfitting import Overfitting

TRAIN = [2.0 * 0.995 ** i + 0.05 for i in range(1000)]


def evals(values, every=100):
    return series(values, [every * (i + 1) - 1 for i in range(len(values))])


def test_rising_validation_loss_fires():
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([1.2, 0.8, 0.6, 0.55, 0.58, 0.63, 0.66, 0.7])}
    [finding] = Overfitting().check(m)
    assert finding.rule == "overfitting" and finding.severity == "warning"
    assert finding.evidence["best_eval_loss"] == 0.55 and finding.evidence["best_eval_step"] == 399
    assert finding.step == 599  # first evaluation 10 % above the minimum
    assert finding.evidence["train_loss_now"] < finding.evidence["train_loss_at_best"]


def test_plateau_and_noisy_validation_do_not_fire():
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([1.2, 0.8, 0.6, 0.55, 0.57, 0.54, 0.58, 0.56])}
    assert Overfitting().check(m) == []


def test_rising_validation_with_flat_training_is_not_overfitting():
    m = {"loss_series": series([0.5] * 1000), "eval_loss_series": evals([0.6, 0.55, 0.7, 0.75, 0.8])}
    assert Overfitting().check(m) == []


def test_threshold():
    base = [1.0, 0.5]
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals(base + [0.549, 0.56, 0.56])}
    assert Overfitting().check(m) == []  # one evaluation under +10 %
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals(base + [0.551, 0.56, 0.56])}
    assert Overfitting().check(m)
    assert Overfitting().check(m, patience_evals=4) == []



def test_minimum_of_exactly_zero_does_not_crash():
    # A diverged classifier with huge logits can give a float32 cross-entropy of exactly 0.
    m = {"loss_series": series(TRAIN), "eval_loss_series": evals([1.2, 0.8, 0.0, 0.3, 0.4, 0.5])}
    [finding] = Overfitting().check(m)
    assert "up from exactly 0" in finding.message
    assert finding.evidence["best_eval_loss"] == 0.0
