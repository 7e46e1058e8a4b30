from nndoctor.rules.code.train_mode_missing import TrainModeMissing


def record(streak, in_eval=None, total=500, modes=2, first=120, kinds=("dropout", "batchnorm")):
    return {"model": "Net", "training_steps": total, "steps_in_eval_mode": streak if in_eval is None else in_eval,
            "first_step": first, "longest_streak": streak, "mode_dependent_count": modes,
            "mode_modules_in_eval": ["drop (Dropout)", "bn1 (BatchNorm1d)"][:modes], "kinds": list(kinds)}


def test_training_in_eval_mode_with_dropout_and_batchnorm_is_an_error():
    [finding] = TrainModeMissing().check({"train_mode_steps": [record(380)]})
    assert finding.rule == "train-mode-missing" and finding.severity == "error"
    assert finding.step == 120 and finding.where == ["drop", "bn1"]
    assert finding.evidence["steps_in_eval_mode"] == 380 and finding.evidence["longest_streak"] == 380
    assert "380 of 500" in finding.message and "Dropout and BatchNorm" in finding.message


def test_silent_without_mode_dependent_modules_or_in_training_mode():
    assert TrainModeMissing().check({"train_mode_steps": [record(500, modes=0, kinds=())]}) == []
    assert TrainModeMissing().check({"train_mode_steps": [record(0, in_eval=0)]}) == []


def test_threshold_consecutive_steps():
    # two scattered stray steps in eval mode (an auxiliary pass) do not fire; three in a row do
    assert TrainModeMissing().check({"train_mode_steps": [record(2, in_eval=6)]}) == []
    assert TrainModeMissing().check({"train_mode_steps": [record(3)]})
    assert TrainModeMissing().check({"train_mode_steps": [record(3)]}, min_consecutive_steps=4) == []


def test_whole_run_in_eval_mode_says_from_the_first_step():
    [finding] = TrainModeMissing().check({"train_mode_steps": [record(500, first=0)]})
    assert "from the first step" in finding.message
