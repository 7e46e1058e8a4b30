from nndoctor.rules.evaluation.poorly_calibrated import PoorlyCalibrated


def measurements(ece, noise=0.01, confidence=0.96, accuracy=0.84):
    return {"calibration": [{"split": "val", "n": 3000, "unit": "rows", "ece": ece, "ece_noise_95": noise,
                             "max_calibration_error": 0.2, "mean_confidence": confidence, "accuracy": accuracy,
                             "mean_confidence_wrong": 0.9, "confident_wrong_share": 0.62, "n_wrong": 480,
                             "confident_threshold": 0.9, "curve": []}]}


def test_overconfident_model_warns():
    found = PoorlyCalibrated().check(measurements(0.124))
    assert len(found) == 1 and found[0].severity == "warning"
    assert "overconfident" in found[0].message and "62% of its 480 wrong answers" in found[0].message


def test_calibrated_or_noise_level_ece_is_silent():
    assert PoorlyCalibrated().check(measurements(0.02)) == []
    assert PoorlyCalibrated().check(measurements(0.07, noise=0.08)) == []  # a small set: ECE is noise


def test_thresholds():
    assert PoorlyCalibrated().check(measurements(0.07))[0].severity == "info"
    assert PoorlyCalibrated().check(measurements(0.07), ece_info=0.08) == []
