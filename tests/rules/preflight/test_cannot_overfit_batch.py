from nndoctor.rules.preflight.cannot_overfit_batch import CannotOverfitBatch


def run(data, final, reference, initial=2.3, floor=0.0, non_finite=False, optimizer=None):
    return {"data": data, "optimizer": optimizer or ("Adam(lr=0.001)" if reference else "SGD(lr=1e-06)"),
            "reference": reference, "initial": initial, "final": final, "best": min(final, initial),
            "steps": 200, "non_finite": non_finite, "floor": floor, "samples": 16, "steps_budget": 200}


def overfit(*runs):
    return {"overfit": {"runs": list(runs), "user_optimizer_given": True}}


def test_positive_code_problem_when_adam_fails_too():
    found = CannotOverfitBatch().check(overfit(run("batch", 2.2, False), run("batch", 2.0, True)))
    assert found[0].rule == "cannot-overfit-batch" and found[0].severity == "error"
    assert "code or architecture" in found[0].message
    assert round(found[0].evidence["batch_adam"]["progress"], 3) == round(0.3 / 2.3, 3)


def test_positive_optimizer_problem_when_only_yours_fails():
    found = CannotOverfitBatch().check(overfit(run("batch", 2.29, False), run("batch", 0.05, True)))
    assert found[0].severity == "warning" and "learning-rate/optimizer" in found[0].message
    found = CannotOverfitBatch().check(overfit(run("batch", float("nan"), False, non_finite=True), run("batch", 0.05, True)))
    assert found[0].severity == "warning" and "diverged" in found[0].message


def test_negative_both_learn_and_floor_is_respected():
    assert CannotOverfitBatch().check(overfit(run("batch", 1.5, False), run("batch", 0.1, True))) == []
    # label smoothing: the loss cannot go below 0.5; reaching 0.52 is success
    assert CannotOverfitBatch().check(overfit(run("batch", 0.52, True, floor=0.5))) == []
    # nothing to learn: the initial loss is already at the floor
    assert CannotOverfitBatch().check(overfit(run("batch", 0.5, True, initial=0.5, floor=0.5))) == []


def test_threshold_progress():
    runs = overfit(run("two_samples", 2.3 * 0.6, True))  # 40% of the way
    assert CannotOverfitBatch().check(runs) != []
    assert CannotOverfitBatch().check(runs, reference_progress_min=0.3) == []
    mine = overfit(run("batch", 2.3 * 0.85, False), run("batch", 0.0, True))  # yours: 15%
    assert CannotOverfitBatch().check(mine) == []
    assert CannotOverfitBatch().check(mine, user_progress_min=0.2) != []


def test_unscaled_regression_targets_are_named_instead_of_the_code():
    m = overfit(run("batch", 2000.0, True, initial=2500.0))
    m["initial_loss"] = {"loss": "mse", "value": 2500.0, "target_mean": 50.0, "target_std": 10.0}
    found = CannotOverfitBatch().check(m)
    assert found[0].severity == "warning" and found[0].evidence["target_rms"] > 50
    assert "targets" in found[0].message
    assert CannotOverfitBatch().check(m, target_rms_max=100.0)[0].severity == "error"


def test_a_slow_learner_still_falling_is_an_info_not_an_error():
    slow = run("batch", 0.045, True, initial=0.085)
    slow["curve"] = [0.085, 0.075, 0.065, 0.055, 0.045]  # the last quarter closed 18% of the rest
    found = CannotOverfitBatch().check(overfit(slow))
    assert found[0].severity == "info" and found[0].evidence["still_falling_share"] > 0.1
    assert CannotOverfitBatch().check(overfit(slow), still_falling_share_min=0.5)[0].severity == "error"
    stuck = dict(slow, curve=[0.085, 0.05, 0.046, 0.0452, 0.045])
    assert CannotOverfitBatch().check(overfit(stuck))[0].severity == "error"


def test_no_error_when_your_optimizer_memorises_what_adam_does_not():
    # LBFGS fits a smooth 1-D curve in a few steps; Adam 1e-3 is still at 29% after 200.
    lbfgs = run("batch", 0.0105, False, initial=0.2912, optimizer="LBFGS(lr=0.5)")
    assert CannotOverfitBatch().check(overfit(lbfgs, run("batch", 0.2076, True, initial=0.2912))) == []
    slow = run("batch", 0.2912 * 0.8, False, initial=0.2912, optimizer="LBFGS(lr=0.5)")  # yours: 20%
    assert CannotOverfitBatch().check(overfit(slow, run("batch", 0.2076, True, initial=0.2912)))[0].severity == "error"
