from nndoctor.rules.preflight.ignores_input import IgnoresInput


def sensitivity(real, zero, random=0.1, floor=0.0, initial=1.4, real_tail=0.0, zero_tail=0.0):
    return {"input_sensitivity": {"steps": 50, "samples": 16, "initial": initial, "floor": floor,
                                  "real_final": real, "zero_final": zero, "random_final": random,
                                  "real_tail_drop": real_tail, "zero_tail_drop": zero_tail}}


def test_positive():
    found = IgnoresInput().check(sensitivity(1.35, 1.35))
    assert found[0].rule == "ignores-input" and found[0].severity == "warning"
    assert found[0].evidence["real_final"] == 1.35 and found[0].evidence["improvement"] == 0


def test_negative_learns_from_input_or_nothing_to_judge():
    assert IgnoresInput().check(sensitivity(0.2, 1.35)) == []
    assert IgnoresInput().check(sensitivity(0.01, 0.01)) == []  # the prior alone reaches the floor
    assert IgnoresInput().check(sensitivity(0.5, None)) == []  # no zero-input baseline


def test_threshold():
    nearly = sensitivity(1.2, 1.35)  # closes 11% of the gap
    assert IgnoresInput().check(nearly) == []
    assert IgnoresInput().check(nearly, improvement_min=0.2) != []


def test_unscaled_regression_targets_are_not_judged():
    m = sensitivity(3230.0, 3284.0, floor=0.0, initial=3322.0)
    m["initial_loss"] = {"loss": "mse", "value": 3322.0, "target_mean": 50.0, "target_std": 10.0}
    assert IgnoresInput().check(m) == []
    assert IgnoresInput().check(m, target_rms_max=100.0) != []


def test_real_run_still_falling_after_the_zero_copy_levelled_off_is_not_judged():
    # A 1-D curve fit on 16 neighbouring points: level with the zero-input copy at step 200,
    # but still falling (2% of the gap in the last quarter) while the zero copy is flat.
    slow = sensitivity(0.0518, 0.0515, initial=0.52, real_tail=0.0011, zero_tail=0.0)
    assert IgnoresInput().check(slow) == []
    assert IgnoresInput().check(slow, slow_learner_tail_share=0.05) != []
    # Both falling alike (a masked input follows the zero-input copy exactly): judged.
    assert IgnoresInput().check(sensitivity(1.35, 1.35, real_tail=0.03, zero_tail=0.03)) != []
    # Measurements without tail drops (older callers) are judged on the levels alone.
    legacy = sensitivity(1.35, 1.35)
    del legacy["input_sensitivity"]["real_tail_drop"]
    assert IgnoresInput().check(legacy) != []
