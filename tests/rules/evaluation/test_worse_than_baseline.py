from nndoctor.rules.evaluation.worse_than_baseline import WorseThanBaseline


def comparison(kind, improvement, low, high, metric="accuracy", name="always the majority class"):
    return {"baseline": name, "kind": kind, "metric": metric, "model": 0.8, "baseline_value": 0.8 - improvement,
            "improvement": improvement, "low": low, "high": high, "higher_is_better": True,
            "fitted_on": "train labels"}


def measurements(*comparisons):
    return {"baselines": [{"split": "val", "comparisons": list(comparisons)}]}


def test_no_gain_over_trivial_baselines_is_an_error():
    found = WorseThanBaseline().check(measurements(comparison("trivial", 0.003, -0.011, 0.016),
                                                   comparison("trivial", 0.004, -0.01, 0.02, "balanced_accuracy")))
    assert len(found) == 1 and found[0].severity == "error"
    assert "+0.3 points" in found[0].message and "-1.1 points" in found[0].message


def test_one_clear_gain_is_enough():
    assert WorseThanBaseline().check(measurements(comparison("trivial", 0.0, -0.01, 0.01),
                                                  comparison("trivial", 0.2, 0.15, 0.25, "balanced_accuracy"))) == []


def test_linear_baseline_as_good_warns_and_margin_threshold():
    linear = comparison("linear", 0.01, -0.005, 0.025, name="a logistic regression")
    found = WorseThanBaseline().check(measurements(comparison("trivial", 0.3, 0.25, 0.35), linear))
    assert [f.severity for f in found] == ["warning"]
    better = comparison("linear", 0.05, 0.02, 0.08, name="a logistic regression")
    assert WorseThanBaseline().check(measurements(better)) == []
    assert len(WorseThanBaseline().check(measurements(better), linear_margin=0.03)) == 1
    assert len(WorseThanBaseline().check(measurements(comparison("trivial", 0.3, 0.25, 0.35)),
                                         trivial_margin=0.25)) == 1
