from nndoctor.rules.data.source_predictable import SourcePredictable


def source(auc, label_only=0.55, null_sd=0.004):
    return {"source_predictability": {
        "source_name": "lab", "auc": auc, "label_only_auc": label_only, "null_sd": null_sd,
        "balanced_accuracy": 0.88, "chance_accuracy": 1 / 3, "n_sources": 3, "n_rows": 9000,
        "sample_cap": 20000, "top_features": [{"feature": "intensity", "auc_drop": 0.3, "ks": 0.6}]}}


def test_fires_on_batch_effect():
    findings = SourcePredictable().check(source(0.97))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "source-predictable" and finding.severity == "warning"
    assert finding.evidence["auc"] == 0.97 and finding.evidence["label_only_auc"] == 0.55
    assert "'lab'" in finding.message and "intensity" in finding.message


def test_silent_when_source_not_predictable():
    assert SourcePredictable().check(source(0.52)) == []


def test_silent_when_only_the_class_mix_predicts_the_source():
    assert SourcePredictable().check(source(0.78, label_only=0.74)) == []


def test_thresholds():
    assert SourcePredictable().check(source(0.6999)) == []
    assert len(SourcePredictable().check(source(0.70))) == 1
    assert SourcePredictable().check(source(0.70), auc_min=0.8) == []
    assert SourcePredictable().check(source(0.75, null_sd=0.07)) == []
    assert len(SourcePredictable().check(source(0.78, label_only=0.74), auc_over_label_only_min=0.02)) == 1
