from nndoctor.rules.evaluation.predictions_degenerate import PredictionsDegenerate


def classification(share, true_share):
    return {"prediction_distribution": [{"split": "val", "task": "classification", "n": 1000,
                                         "top_predicted": "normal", "top_predicted_share": share,
                                         "true_share_of_top": true_share}]}


def test_collapsed_classifier_is_an_error():
    found = PredictionsDegenerate().check(classification(0.991, 0.71))
    assert len(found) == 1 and found[0].severity == "error" and "99.1% of predictions are 'normal'" in found[0].message


def test_imbalanced_but_faithful_predictions_are_silent():
    assert PredictionsDegenerate().check(classification(0.98, 0.97)) == []
    assert PredictionsDegenerate().check(classification(0.80, 0.50)) == []


def test_thresholds_and_constant_regression():
    assert PredictionsDegenerate().check(classification(0.96, 0.80), top_share_min=0.97) == []
    assert PredictionsDegenerate().check(classification(0.96, 0.80), excess_min=0.2) == []
    constant = {"prediction_distribution": [{"split": "val", "task": "regression", "n": 1000, "prediction_std": 0.01,
                                             "target_std": 1.0, "distinct_predictions": 3}]}
    assert len(PredictionsDegenerate().check(constant)) == 1
    assert PredictionsDegenerate().check(constant, spread_ratio_max=0.005) == []
