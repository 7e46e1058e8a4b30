from dynamics_rule_data import series, sgd_losses, warmup_cosine

from nndoctor.rules.dynamics.loss_not_decreasing import LossNotDecreasing


def test_flat_loss_at_chance_fires():
    losses = sgd_losses(600, lr=1e-5)
    [finding] = LossNotDecreasing().check({"loss_series": series(losses)})
    assert finding.rule == "loss-not-decreasing" and finding.severity == "warning"
    assert abs(finding.evidence["start"] - 0.6931) < 1e-3 and finding.evidence["relative_drop"] < 0.01
    assert finding.evidence["steps"] == 600


def test_real_sgd_warmup_and_converged_plateau_do_not_fire():
    for seed in range(3):
        for losses in (sgd_losses(3000, seed=seed), sgd_losses(3000, lr=1.0, seed=seed),
                       sgd_losses(3000, seed=seed, schedule=warmup_cosine(3000, 300)),
                       sgd_losses(3000, batch=1, seed=seed)):
            assert LossNotDecreasing().check({"loss_series": series(losses)}) == [], seed


def test_long_warmup_just_starting_to_bite_does_not_fire():
    flat = [2.3] * 150
    starting = [2.3 - 0.002 * i for i in range(60)]
    assert LossNotDecreasing().check({"loss_series": series(flat + starting)}) == []


def test_threshold():
    losses = [1.0] * 100 + [0.995] * 200  # 0.5 % drop
    assert LossNotDecreasing().check({"loss_series": series(losses)})
    assert LossNotDecreasing().check({"loss_series": series(losses)}, min_relative_drop=0.004) == []
    assert LossNotDecreasing().check({"loss_series": series([1.0] * 150)}) == []  # under 200 steps
    assert LossNotDecreasing().check({"loss_series": series([0.98] * 100 + [0.97] * 200)}) == []  # 1 % drop
