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


def test_one_update_that_wrecked_the_initial_scale_fires():
    # Adam with lr 1.0: the first update is 8x the weight, which then stays ~30x larger,
    # so later updates look small relative to it.
    m = {"update_ratio_per_layer": {"fc.weight": sampled([7.6, 0.07, 0.03, 0.02, 0.01, 0.005])},
         "weight_norm_per_layer": {"fc.weight": sampled([4.7, 129.0, 176.0, 202.0, 217.0, 224.0])},
         "parameter_kinds": KINDS}
    [finding] = UpdateRatioHigh().check(m)
    assert finding.step == 0 and finding.where == ["fc.weight"]
    assert finding.evidence["burst_update_ratio"] == {"fc.weight": 7.6}
    assert finding.evidence["weight_norm_growth"]["fc.weight"] > 40


def test_zero_initialised_and_modestly_growing_weights_are_not_bursts():
    zero_init = {"update_ratio_per_layer": {"fc.weight": sampled([1.0, 0.1, 0.05, 0.03, 0.02, 0.01])},
                 "weight_norm_per_layer": {"fc.weight": sampled([0.0, 0.1, 0.5, 1.0, 2.0, 4.0])},
                 "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(zero_init) == []
    grew_3x = {"update_ratio_per_layer": {"fc.weight": sampled([1.5, 0.01, 0.01, 0.01, 0.01, 0.01])},
               "weight_norm_per_layer": {"fc.weight": sampled([1.0, 2.5, 3.0, 3.0, 3.0, 3.0])},
               "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(grew_3x) == []
    assert UpdateRatioHigh().check(grew_3x, burst_norm_growth=2.0)
