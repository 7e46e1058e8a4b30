import math

from nndoctor.rules.preflight.initial_loss_off import InitialLossOff


def record(value, loss="cross_entropy", expected=math.log(10), low=math.log(10) * 0.9):
    return {"initial_loss": {"loss": loss, "value": value, "expected": expected, "expected_low": low,
                             "expected_basis": "ln(10) for 10 classes", "n_classes": 10, "step": 0}}


def test_positive_far_above():
    found = InitialLossOff().check(record(14.2))
    assert found[0].rule == "initial-loss-off" and found[0].severity == "warning"
    assert found[0].evidence["ratio"] > 6 and found[0].evidence["expected"] == math.log(10)


def test_positive_far_below_is_an_info():
    found = InitialLossOff().check(record(0.3))
    assert found[0].severity == "info" and "pretrained" in found[0].message


def test_negative_near_expectation_or_no_expectation():
    assert InitialLossOff().check(record(2.35)) == []
    assert InitialLossOff().check(record(50.0, expected=None, low=None)) == []
    assert InitialLossOff().check(record(float("nan"))) == []


def test_threshold_by_kind():
    assert InitialLossOff().check(record(3.6)) != []  # 1.56× for classification
    assert InitialLossOff().check(record(3.6), classification_ratio_high=2.0) == []
    assert InitialLossOff().check(record(5.0, loss="mse", expected=2.0, low=1.0)) == []  # 2.5× < 3× for regression
    assert InitialLossOff().check(record(7.0, loss="mse", expected=2.0, low=1.0)) != []


def test_negative_loss_is_left_to_the_loss_input_rules():
    assert InitialLossOff().check(record(-1.5, loss="nll")) == []


def test_regression_is_not_judged_from_below():
    # A 1-D curve fit can start well below the target variance by chance.
    assert InitialLossOff().check(record(0.258, loss="mse", expected=0.6, low=0.525)) == []


def test_first_evaluation_loss_before_training_is_judged_too():
    m = record(2.35)
    m["initial_eval_loss"] = dict(record(264297.0)["initial_loss"], phase="evaluation", before_training=True)
    [finding] = InitialLossOff().check(m)
    assert finding.where == "evaluation" and finding.evidence["phase"] == "evaluation"
    assert "264,300" in finding.message and "evaluation" in finding.message and "before any training step" in finding.message
    assert finding.evidence["before_training"] is True


def test_evaluation_loss_after_training_started_or_near_expectation_is_silent():
    m = record(2.35)
    m["initial_eval_loss"] = dict(record(9.0)["initial_loss"], phase="evaluation", before_training=False)
    assert InitialLossOff().check(m) == []  # a high validation loss after training can be overfitting
    m["initial_eval_loss"] = dict(record(2.4)["initial_loss"], phase="evaluation", before_training=True)
    assert InitialLossOff().check(m) == []


def test_evaluation_loss_threshold():
    m = record(2.35)
    m["initial_eval_loss"] = dict(record(3.6)["initial_loss"], phase="evaluation", before_training=True)
    assert InitialLossOff().check(m)
    assert InitialLossOff().check(m, classification_ratio_high=2.0) == []
