from dynamics_rule_data import series, sgd_losses, softmax_sgd_losses, warmup_cosine

from nndoctor.rules.dynamics.loss_diverging import LossDiverging


def test_loss_climbing_back_up_fires():
    losses = [2.3 * 0.98 ** i + 0.3 for i in range(200)] + [0.3 + 0.015 * i for i in range(150)]
    [finding] = LossDiverging().check({"loss_series": series(losses)})
    assert finding.rule == "loss-diverging" and finding.severity == "warning"
    assert finding.evidence["recent"] > 1.5 and finding.evidence["best"] < 0.4
    assert 200 <= finding.step <= 349


def test_loss_growing_from_the_start_fires():
    losses = [1.0 * 1.01 ** i for i in range(100)]
    assert LossDiverging().check({"loss_series": series(losses)})


def test_real_sgd_curves_do_not_fire():
    for seed in range(3):
        for losses in (sgd_losses(3000, seed=seed), sgd_losses(3000, batch=1, seed=seed),
                       sgd_losses(3000, seed=seed, schedule=warmup_cosine(3000, 300)),
                       sgd_losses(150, seed=seed)):
            assert LossDiverging().check({"loss_series": series(losses)}) == [], seed


def test_threshold():
    # fell 2.0 -> 1.0 (progress 1.0, start 2.0: limit 0.5 x 2.0 = 1.0), then back up by 0.9 / 1.1
    down = [2.0] * 30 + [1.0] * 100
    assert LossDiverging().check({"loss_series": series(down + [1.9] * 100)}) == []
    assert LossDiverging().check({"loss_series": series(down + [2.1] * 100)})
    assert LossDiverging().check({"loss_series": series(down + [2.1] * 100)}, rise_fraction=0.6) == []
    assert LossDiverging().check({"loss_series": series([1.0] * 20 + [5.0] * 20)}) == []  # too short


def fires_at_some_prefix(losses, every=25):
    return [n for n in range(50, len(losses) + 1, every) if LossDiverging().check({"loss_series": series(losses[:n])})]


def test_healthy_per_sample_sgd_never_fires_while_the_run_grows():
    # batch of 1: most losses near 0, a few large; a median-based best would sit far below
    # the trimmed mean of the recent window and fake a rise (seen on real per-sample runs)
    for seed in range(3):
        assert fires_at_some_prefix(sgd_losses(1500, batch=1, seed=seed)) == [], seed
        assert fires_at_some_prefix(softmax_sgd_losses(1500, batch=1, lr=0.5, seed=seed)) == [], seed
        assert fires_at_some_prefix(softmax_sgd_losses(1500, batch=1, lr=0.5, signal=3, seed=seed)) == [], seed


def test_real_divergence_under_per_sample_noise_still_fires():
    healthy = sgd_losses(1200, batch=1, seed=0)
    diverging = [loss * (1 + max(0, step - 600) / 100) for step, loss in enumerate(healthy)]
    assert fires_at_some_prefix(diverging)[0] <= 900
    assert fires_at_some_prefix(diverging[:600]) == []


def test_loss_that_blows_up_in_its_first_steps_and_stays_up_fires():
    # lr 100x too high: 3.9 (ln 50) at step 0, hundreds by step 3, settling near 70
    losses = [3.9, 60.0, 400.0, 579.0] + [300.0 * 0.97 ** i + 68.0 for i in range(200)]
    expectation = {"value": 3.9, "expected": 3.91, "expected_low": 3.85, "expected_basis": "ln(50)"}
    [finding] = LossDiverging().check({"loss_series": series(losses), "initial_loss": expectation})
    assert finding.evidence["first"] == 3.91 and finding.step == 3
    assert "blew up" in finding.message
    assert LossDiverging().check({"loss_series": series(losses)}) == []  # no expectation: not judged


def test_a_lucky_first_sample_is_not_the_reference():
    # batch of one: the first loss is 0.002, the run then hovers at ln 2 like any per-sample run
    losses = [0.002, 1.5, 4.0] + [0.7 + 0.3 * ((i * 7919) % 11) / 11 for i in range(300)]
    expectation = {"value": 0.002, "expected": 0.693, "expected_low": 0.69, "expected_basis": "ln(2)"}
    assert LossDiverging().check({"loss_series": series(losses), "initial_loss": expectation}) == []


def test_loss_recovering_below_ten_times_its_first_value_is_not_a_blow_up():
    losses = [3.9, 60.0, 400.0] + [300.0 * 0.9 ** i + 3.0 for i in range(200)]
    expectation = {"value": 3.9, "expected": 3.91, "expected_low": 3.85, "expected_basis": "ln(50)"}
    assert LossDiverging().check({"loss_series": series(losses), "initial_loss": expectation}) == []
