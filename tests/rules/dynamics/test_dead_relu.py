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
    assert DeadRelu().check({"activation_stats": stats([1.0, 1.0], units=2)}) == []


def test_threshold_and_confirmation():
    assert DeadRelu().check({"activation_stats": stats([0.49, 0.49])}) == []
    assert DeadRelu().check({"activation_stats": stats([0.5, 0.5])})
    assert DeadRelu().check({"activation_stats": stats([0.9, 0.3])}) == []  # revived: last window healthy
    assert DeadRelu().check({"activation_stats": stats([0.6, 0.6])}, dead_share_min=0.7) == []
