from nndoctor.rules.evaluation.above_ceiling import AboveCeiling
from nndoctor.rules.evaluation.near_ceiling import NearCeiling


def entry(model, low, high, ceiling=0.92, reference=0.85):
    return {"ceiling": [{"split": "val", "source": "replicates", "metric": "pearson_r", "replicate_correlation": 0.85,
                         "reference": reference, "ceiling": ceiling, "ceiling_low": ceiling - 0.01,
                         "ceiling_high": ceiling + 0.01, "model": model, "model_low": low, "model_high": high}]}


def test_model_above_ceiling_is_suspicious_and_not_near():
    m = entry(0.97, 0.96, 0.98)
    found = AboveCeiling().check(m)
    assert len(found) == 1 and "check for leakage" in found[0].message and "0.85" in found[0].message
    assert NearCeiling().check(m) == []


def test_model_as_good_as_a_replicate_is_near_ceiling():
    m = entry(0.84, 0.82, 0.86)
    assert AboveCeiling().check(m) == []
    found = NearCeiling().check(m)
    assert len(found) == 1 and found[0].severity == "info" and "a repeated experiment correlates 0.85" in found[0].message


def test_thresholds():
    assert NearCeiling().check(entry(0.80, 0.78, 0.82)) == []
    assert len(NearCeiling().check(entry(0.80, 0.78, 0.82), margin_points=6)) == 1
    assert AboveCeiling().check(entry(0.97, 0.96, 0.98), margin=0.05) == []
