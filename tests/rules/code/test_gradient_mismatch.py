from nndoctor.rules.code.gradient_mismatch import GradientMismatch


def function(error, negated=False, flat=False, status="checked"):
    return {"name": "MyFn", "module": "model", "status": status, "relative_error": error,
            "numeric": 1.0, "analytic": 1.0, "negated": negated, "flat_forward": flat}


def test_positive_wrong_backward():
    found = GradientMismatch().check({"custom_functions": [function(0.66)]})
    assert found[0].rule == "gradient-mismatch" and found[0].severity == "error"
    assert found[0].evidence["relative_error"] == 0.66 and found[0].where == "MyFn"


def test_negative_correct_skipped_and_deliberate_surrogates():
    assert GradientMismatch().check({"custom_functions": [function(1e-9), function(1.0, status="skipped")]}) == []
    found = GradientMismatch().check({"custom_functions": [function(2.0, negated=True), function(1.0, flat=True)]})
    assert [f.severity for f in found] == ["info", "info"]


def test_threshold():
    assert GradientMismatch().check({"custom_functions": [function(1e-3)]}) != []
    assert GradientMismatch().check({"custom_functions": [function(1e-3)]}, relative_error_max=1e-2) == []


def test_low_precision_threshold():
    low = dict(function(1e-3), precision="low")
    assert GradientMismatch().check({"custom_functions": [low]}) == []
    assert GradientMismatch().check({"custom_functions": [low]}, relative_error_max_low_precision=1e-4) != []
