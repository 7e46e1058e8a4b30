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


def per_sample(rows, since, units=3, seen=60):
    layer = stats([0.33], units=units)  # one partial window: too little for the window rule
    layer["relu after fc1"]["inactive_streaks"] = {"rows_seen": seen, "samples_seen": seen, "rows": rows,
                                                   "samples": rows, "since": since}
    return {"activation_stats": layer}


def test_per_sample_layer_judged_by_inactive_streaks():
    # the per-sample corpus run: 3 units dead since steps 0, 50, 10 (one input per sampled step)
    [finding] = DeadRelu().check(per_sample([60, 55, 59], [0, 50, 10]))
    assert finding.step == 50 and finding.evidence["dead_share"] == 1.0 and finding.evidence["inactive_rows_min"] == 55
    assert "threshold 40 inputs in a row" in finding.message
    assert DeadRelu().check(per_sample([60, 3, 59], [0, 570, 10])) == []  # one unit still fires: narrow needs all
    assert DeadRelu().check(per_sample([39, 39, 39], [0, 0, 0])) == []  # 39 < 40 inputs
    assert DeadRelu().check(per_sample([39, 39, 39], [0, 0, 0]), streak_rows_min=39)


def test_wide_per_sample_layer_needs_half_its_units_dead_and_batched_layers_keep_windows():
    healthy = [1, 1, 0, 2, 3, 0, 2, 0, 2, 0, 0, 0, 1, 0, 1, 0]  # the clean per-sample run's 16 units
    assert DeadRelu().check(per_sample(healthy, [-1] * 16, units=16)) == []
    half = [50] * 8 + [0] * 8
    assert DeadRelu().check(per_sample(half, [100] * 8 + [-1] * 8, units=16))
    batched = per_sample([640] * 3, [0] * 3, seen=10)
    batched["activation_stats"]["relu after fc1"]["inactive_streaks"]["rows_seen"] = 640  # 64 rows per sample
    assert DeadRelu().check(batched) == []  # windows decide there (one partial window: not yet)
