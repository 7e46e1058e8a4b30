from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.dead_relu import DeadRelu


def stats(dead_shares, hidden=True, units=64, kind="relu"):
    return {"relu after fc1": {"kind": kind, "after": "fc1", "hidden": hidden, "order": 3, "units": units,
                               "dead_share": sampled(dead_shares, every=80), "saturated_share": None,
                               "mean_abs_input": None}}


def test_mostly_dead_layer_fires():
    [finding] = DeadRelu().check({"activation_stats": stats([0.1, 0.9, 0.95, 0.97])})
    assert finding.rule == "dead-relu" and finding.severity == "warning"
    assert finding.where == "fc1" and finding.evidence["dead_share"] == 0.97
    assert finding.evidence["units"] == 64 and finding.step == 80


def test_a_few_dead_units_and_output_relus_are_normal():
    assert DeadRelu().check({"activation_stats": stats([0.05, 0.1, 0.12])}) == []
    assert DeadRelu().check({"activation_stats": stats([1.0, 1.0], hidden=False)}) == []


def test_threshold_and_confirmation():
    assert DeadRelu().check({"activation_stats": stats([0.49, 0.49])}) == []
    assert DeadRelu().check({"activation_stats": stats([0.5, 0.5])})
    assert DeadRelu().check({"activation_stats": stats([0.9, 0.3])}) == []  # revived: last window healthy
    assert DeadRelu().check({"activation_stats": stats([0.6, 0.6])}, dead_share_min=0.7) == []


def test_narrow_layer_dead_after_per_sample_sgd_fires_once_confirmed():
    # 3 hidden units, all dead after unscaled inputs and lr 0.1 per-sample SGD
    assert DeadRelu().check({"activation_stats": stats([1.0, 1.0], units=3)}) == []  # two windows: not yet
    [finding] = DeadRelu().check({"activation_stats": stats([0.0, 1.0, 1.0, 1.0], units=3)})
    assert finding.evidence["units"] == 3 and finding.evidence["dead_share"] == 1.0 and finding.step == 80
    assert DeadRelu().check({"activation_stats": stats([1.0] * 3, units=1)})


def test_narrow_layer_with_a_unit_missing_one_window_is_not_dead():
    # 2 of 3 units silent in one window of single samples, alive again in the next
    assert DeadRelu().check({"activation_stats": stats([0.67, 0.67, 0.33], units=3)}) == []
    assert DeadRelu().check({"activation_stats": stats([0.34, 0.34, 0.34], units=3)}) == []  # 1 of 3 dead
    assert DeadRelu().check({"activation_stats": stats([0.67] * 3, units=3)}, narrow_confirm_windows=4) == []
