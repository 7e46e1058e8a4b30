from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.update_ratio_low import UpdateRatioLow

KINDS = {"fc.weight": {"kind": "weight"}}


def check(ratios, **thresholds):
    m = {"update_ratio_per_layer": {"fc.weight": sampled(ratios)}, "parameter_kinds": KINDS}
    return UpdateRatioLow().check(m, **thresholds)


def test_learning_rate_far_too_low_fires():
    [finding] = check([3e-6] * 30)
    assert finding.rule == "update-ratio-low" and finding.severity == "warning"
    assert finding.where == ["fc.weight"] and finding.evidence["update_ratio_p90"]["fc.weight"] == 3e-6


def test_schedule_decaying_to_zero_and_warmup_do_not_fire():
    warmup = [1e-6 * (i + 1) * 50 for i in range(10)]  # 5e-5 .. 5e-4
    healthy = [1e-3] * 20
    decay = [1e-3 * 0.7 ** i for i in range(30)]  # cosine/step decay to ~0 at the end
    assert check(warmup + healthy + decay) == []


def test_unchanged_weights_and_short_runs_are_left_to_other_rules():
    assert check([0.0] * 30) == []
    assert check([1e-7] * 9) == []


def test_threshold():
    assert check([1.1e-5] * 30) == []
    assert check([0.9e-5] * 30)
    assert check([0.9e-5] * 30, ratio_low=1e-6) == []
