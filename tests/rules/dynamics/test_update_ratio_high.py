from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.update_ratio_high import UpdateRatioHigh

KINDS = {"fc.weight": {"kind": "weight"}, "norm.weight": {"kind": "norm"}}


def test_sustained_large_updates_fire():
    m = {"update_ratio_per_layer": {"fc.weight": sampled([0.3] * 10)}, "parameter_kinds": KINDS}
    [finding] = UpdateRatioHigh().check(m)
    assert finding.rule == "update-ratio-high" and finding.severity == "warning"
    assert finding.evidence["update_ratio_median"] == {"fc.weight": 0.3}
    assert finding.where == ["fc.weight"] and finding.step == 0


def test_adam_start_up_and_healthy_band_do_not_fire():
    # Adam's first steps move tiny weights by ~lr/|w|; the median over the window decides.
    ratios = [0.5, 0.2, 0.05, 0.01, 0.005, 0.003, 0.002, 0.002, 0.001, 0.001]
    m = {"update_ratio_per_layer": {"fc.weight": sampled(ratios)}, "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(m) == []


def test_norm_parameters_and_short_windows_are_not_judged():
    m = {"update_ratio_per_layer": {"norm.weight": sampled([0.5] * 10), "fc.weight": sampled([0.5] * 4)},
         "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(m) == []


def test_threshold():
    m = {"update_ratio_per_layer": {"fc.weight": sampled([0.099] * 10)}, "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(m) == []
    assert UpdateRatioHigh().check(m, ratio_high=0.05)
