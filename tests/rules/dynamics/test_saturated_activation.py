from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.saturated_activation import SaturatedActivation


def stats(shares, hidden=True, kind="tanh"):
    return {f"{kind} after fc2": {"kind": kind, "after": "fc2", "hidden": hidden, "order": 5, "units": None,
                                  "dead_share": None, "saturated_share": sampled(shares),
                                  "mean_abs_input": sampled([6.0] * len(shares))}}


def test_saturated_tanh_fires():
    [finding] = SaturatedActivation().check({"activation_stats": stats([0.8, 0.85, 0.83, 0.9])})
    assert finding.rule == "saturated-activation" and finding.severity == "warning"
    assert finding.where == "fc2" and finding.evidence["saturated_share"] == 0.84
    assert finding.evidence["mean_abs_input"] == 6.0 and finding.step == 0


def test_healthy_and_output_sigmoid_do_not_fire():
    assert SaturatedActivation().check({"activation_stats": stats([0.01, 0.02, 0.05, 0.1])}) == []
    # a confident classifier's output sigmoid is saturated on purpose
    assert SaturatedActivation().check({"activation_stats": stats([0.9] * 5, hidden=False, kind="sigmoid")}) == []


def test_threshold():
    assert SaturatedActivation().check({"activation_stats": stats([0.49] * 5)}) == []
    assert SaturatedActivation().check({"activation_stats": stats([0.5] * 5, kind="sigmoid")})
    assert SaturatedActivation().check({"activation_stats": stats([0.9] * 2)}) == []  # too few samples
