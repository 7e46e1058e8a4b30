from nndoctor.rules.evaluation.val_test_disagree import ValTestDisagree


def row(first, second, low, high, metric="accuracy"):
    return {"metric": metric, "first": "val", "second": "test", "first_value": first, "second_value": second,
            "difference": first - second, "low": low, "high": high, "method": "Newcombe", "paired": False}


def test_disagreement_beyond_interval_warns():
    found = ValTestDisagree().check({"split_comparison": [row(0.912, 0.84, 0.048, 0.096)]})
    assert len(found) == 1 and "91.2% on val and 84.0% on test" in found[0].message
    assert "-7.2 points" in found[0].message


def test_overlapping_or_tiny_differences_are_silent():
    assert ValTestDisagree().check({"split_comparison": [row(0.9, 0.89, -0.01, 0.03)]}) == []
    assert ValTestDisagree().check({"split_comparison": [row(0.9, 0.89, 0.005, 0.015)]}) == []


def test_thresholds():
    rows = {"split_comparison": [row(0.9, 0.87, 0.01, 0.05)]}
    assert len(ValTestDisagree().check(rows)) == 1
    assert ValTestDisagree().check(rows, min_difference_points=3.5) == []
    loss = {"split_comparison": [row(0.30, 0.36, -0.09, -0.03, "log_loss")]}
    assert len(ValTestDisagree().check(loss)) == 1
    assert ValTestDisagree().check(loss, min_relative_difference=0.2) == []
