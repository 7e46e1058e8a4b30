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


def one_cycle_run(growths):
    """The corpus CNN with OneCycle max_lr 0.3: large updates at the peak inflate the weights, then the
    annealed lr leaves only small recent ratios."""
    ratios = [0.174, 0.146, 0.145, 0.095, 0.032, 0.009, 0.003, 0.001, 0.0, 0.0]
    names = [f"layer{i}.weight" for i in range(len(growths))]
    return {"update_ratio_per_layer": {n: sampled(ratios) for n in names},
            "weight_norm_per_layer": {n: sampled([2.0] + [2.0 * g] * 9) for n, g in zip(names, growths)}}


def test_large_updates_hidden_by_an_annealed_schedule_fire_when_most_layers_inflated():
    m = one_cycle_run([13.7, 13.3, 7.7, 7.6])
    assert UpdateRatioHigh().check({**m, "weight_norm_per_layer": {}}) == []  # recent window: annealed
    [finding] = UpdateRatioHigh().check(m)
    assert finding.step == 0 and finding.where == ["layer0.weight", "layer1.weight"]
    assert finding.evidence["weight_norm_growth"]["layer0.weight"] == 13.7
    assert "2 of 4 weight layers" in finding.message and "0.14 of its size" in finding.message


def test_one_small_initialised_layer_growing_alone_does_not_fire():
    assert UpdateRatioHigh().check(one_cycle_run([40.0, 1.2, 1.1, 1.3])) == []
    assert UpdateRatioHigh().check(one_cycle_run([13.0, 9.9, 9.9, 9.9])) == []  # others below 10x
    assert UpdateRatioHigh().check(one_cycle_run([13.0, 9.9, 9.9, 9.9]), burst_norm_growth=9.0)


def test_a_layer_settling_below_the_threshold_at_the_latest_step_does_not_fire():
    # word_language_model's decoder at lr 5 (plain SGD, clip 0.25): 0.16 -> 0.09 as its weights grow
    settling = [0.158, 0.124, 0.14, 0.1, 0.087]
    m = {"update_ratio_per_layer": {"fc.weight": sampled(settling)}, "parameter_kinds": KINDS}
    assert UpdateRatioHigh().check(m) == []
    m["update_ratio_per_layer"]["fc.weight"] = sampled(settling[:-1] + [0.12])
    assert UpdateRatioHigh().check(m)
