from dynamics_rule_data import series, sgd_losses, zigzag

from nndoctor.rules.dynamics.loss_oscillating import LossOscillating


def test_zigzag_fires():
    [finding] = LossOscillating().check({"loss_series": series(zigzag(400))})
    assert finding.rule == "loss-oscillating" and finding.severity == "warning"
    assert finding.evidence["lag1_autocorrelation"] < -0.9
    assert finding.evidence["relative_swing"] > 0.5 and finding.evidence["steps"] == 256
    assert finding.step == 400 - 256


def test_noisy_real_sgd_does_not_fire():
    for seed in range(5):
        for losses in (sgd_losses(2000, seed=seed), sgd_losses(2000, batch=1, seed=seed),
                       sgd_losses(2000, lr=10.0, seed=seed)):
            assert LossOscillating().check({"loss_series": series(losses)}) == [], seed


def test_threshold():
    tiny = zigzag(300, amplitude=0.02, noise=0.0)  # regular, but swings of 4 % of the level
    assert LossOscillating().check({"loss_series": series(tiny)}) == []
    assert LossOscillating().check({"loss_series": series(tiny)}, min_relative_amplitude=0.03)
    mixed = zigzag(300, amplitude=0.1, noise=0.3)  # zig-zag buried in noise: autocorrelation ~ -0.1
    assert LossOscillating().check({"loss_series": series(mixed)}) == []
    assert LossOscillating().check({"loss_series": series(zigzag(60))}) == []  # under 64 steps
