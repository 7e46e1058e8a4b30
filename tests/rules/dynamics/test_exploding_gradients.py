from dynamics_rule_data import sampled, series

from nndoctor.rules.dynamics.exploding_gradients import ExplodingGradients

HEALTHY = [1.0, 1.2, 0.9, 1.1, 1.3, 1.0, 0.8, 1.5, 2.0, 1.2, 0.9, 1.1]


def measurements(global_norms, per_layer=None, loss=None):
    m = {"grad_norm_global": sampled(global_norms)}
    if per_layer:
        m["grad_norm_per_layer"] = {name: sampled(values) for name, values in per_layer.items()}
    if loss:
        m["loss_series"] = series(loss)
    return m


def test_blowup_fires_and_names_the_fastest_growing_layer():
    norms = HEALTHY[:8] + [50.0, 4e3, 3e5]
    layers = {"fc1.weight": [0.5] * 8 + [1.0, 2.0, 3.0], "fc3.weight": [0.5] * 8 + [49.0, 4e3, 3e5]}
    [finding] = ExplodingGradients().check(measurements(norms, layers))
    assert finding.rule == "exploding-gradients" and finding.severity == "warning"
    assert finding.step == 90  # the 10th sampled step (every 10): 4e3 is >= 100x the median 1.1
    assert finding.where == "fc3.weight"
    assert finding.evidence["growth"] >= 100


def test_healthy_noisy_norms_do_not_fire():
    assert ExplodingGradients().check(measurements(HEALTHY * 5)) == []


def test_threshold_is_relative_to_the_median_before():
    norms = HEALTHY[:8] + [103.0]  # median before is 1.05: 98x
    assert ExplodingGradients().check(measurements(norms)) == []
    assert ExplodingGradients().check(measurements(norms[:8] + [107.0]))  # 102x
    assert ExplodingGradients().check(measurements(norms[:8] + [107.0]), growth_factor=200) == []


def test_recovered_spike_in_a_learning_run_is_not_reported():
    norms = HEALTHY[:8] + [500.0] + HEALTHY * 3
    loss = [2.3 * 0.99 ** i + 0.05 for i in range(400)]
    assert ExplodingGradients().check(measurements(norms, loss=loss)) == []
    assert ExplodingGradients().check(measurements(norms))  # without the loss it is reported
