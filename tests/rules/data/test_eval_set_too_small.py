import math

from scipy.stats import binomtest

from nndoctor.rules.data.eval_set_too_small import EvalSetTooSmall, rows_for_halfwidth, wilson_halfwidth


def sizes(n, accuracy=0.5, smallest_n=None, task="classification", given=False):
    return {"eval_sizes": [{"split": "test", "n": n, "task": task, "assumed_accuracy": accuracy,
                            "accuracy_given": given, "smallest_class": "rare",
                            "smallest_class_n": smallest_n}]}


def test_wilson_matches_scipy():
    for successes, n in [(150, 300), (90, 100), (999, 1000)]:
        interval = binomtest(successes, n).proportion_ci(method="wilson")
        expected = (interval.high - interval.low) / 2
        assert math.isclose(wilson_halfwidth(successes / n, n), expected, rel_tol=1e-5)
    needed = rows_for_halfwidth(0.5, 0.02)
    assert wilson_halfwidth(0.5, needed) <= 0.02 < wilson_halfwidth(0.5, needed - 1)


def test_tiny_test_set_warns_with_rows_needed():
    findings = EvalSetTooSmall().check(sizes(300))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "eval-set-too-small" and finding.severity == "warning"
    assert math.isclose(finding.evidence["accuracy_halfwidth_points"], 5.62, abs_tol=0.01)
    assert finding.evidence["rows_needed"] == 2398
    assert "~2,398 rows would give ±2 points" in finding.message


def test_large_test_set_is_silent():
    assert EvalSetTooSmall().check(sizes(20000, smallest_n=2000)) == []
    assert EvalSetTooSmall().check(sizes(2000, accuracy=0.9, given=True)) == []


def test_medium_set_and_rare_class_are_info():
    assert EvalSetTooSmall().check(sizes(1000))[0].severity == "info"
    finding = EvalSetTooSmall().check(sizes(20000, smallest_n=40))[0]
    assert finding.severity == "info" and "'rare' has 40 rows" in finding.message
    assert EvalSetTooSmall().check(sizes(300, smallest_n=40))[0].severity == "warning"


def test_regression_mse_interval():
    finding = EvalSetTooSmall().check(sizes(100, task="regression"))[0]
    assert finding.severity == "warning"
    assert finding.evidence["rows_needed"] == 769
    assert EvalSetTooSmall().check(sizes(800, task="regression")) == []
    assert EvalSetTooSmall().check(sizes(500, task="regression"))[0].severity == "info"


def test_thresholds():
    assert EvalSetTooSmall().check(sizes(2398)) == []
    assert EvalSetTooSmall().check(sizes(2397))[0].severity == "info"
    assert EvalSetTooSmall().check(sizes(2397), accuracy_halfwidth_points_info=2.5) == []
    enough = rows_for_halfwidth(0.5, 0.10)
    assert enough == 93
    assert EvalSetTooSmall().check(sizes(20000, smallest_n=enough)) == []
    assert len(EvalSetTooSmall().check(sizes(20000, smallest_n=enough - 1))) == 1
