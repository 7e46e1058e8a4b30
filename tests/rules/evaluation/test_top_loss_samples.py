from nndoctor.rules.evaluation.top_loss_samples import TopLossSamples


def measurements(top, issues=41):
    return {"top_loss": [{"split": "val", "n": 3000, "top": top, "mean_loss": 0.3, "n_label_issues": issues,
                          "label_issue_ids": [4711], "label_check_skipped": None}]}


def test_lists_worst_samples_with_label_error_count():
    top = [{"sample_id": 4711, "loss": 6.2, "label": "cat", "prediction": "dog", "confidence": 0.998,
            "probability_of_label": 0.002, "looks_mislabelled": True}]
    found = TopLossSamples().check(measurements(top))
    assert len(found) == 1 and found[0].severity == "info" and found[0].where == [4711]
    assert "labelled 'cat' but predicted 'dog' with confidence 0.998" in found[0].message
    assert "41 rows (1.4%)" in found[0].message


def test_perfect_classifier_has_nothing_to_show():
    top = [{"sample_id": 1, "loss": 0.01, "label": "cat", "prediction": "cat", "confidence": 0.99}]
    assert TopLossSamples().check(measurements(top)) == []


def test_samples_shown_threshold():
    top = [{"sample_id": i, "loss": 5.0 - i, "label": 0.0, "prediction": 2.0} for i in range(10)]
    message = TopLossSamples().check(measurements(top, issues=None), samples_shown=2)[0].message
    assert "ids 0, 1, …" in message


def test_perfect_regression_is_silent_and_values_are_short():
    assert TopLossSamples().check(measurements([{"sample_id": 0, "loss": 0.0, "label": 0.16, "prediction": 0.16}],
                                               issues=None)) == []
    found = TopLossSamples().check(measurements([{"sample_id": 3, "loss": 10.7, "label": -3.261725,
                                                  "prediction": 0.011359}], issues=None))
    assert "labelled -3.262 but predicted 0.01136" in found[0].message
