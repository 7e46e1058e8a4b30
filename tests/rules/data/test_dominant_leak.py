"""Issue 8: a column that predicts the label for 97% of rows (a code assigned after the
outcome) is a leak, not 3% of mislabelled rows; real strong features stay silent."""
import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

import nndoctor
from nndoctor.rules.data.feature_leakage import FeatureLeakage
from nndoctor.rules.data.label_issues import LabelIssues


def coded(n=3000, classes=2, agreement=0.97, seed=0):
    """Weak real features, plus a code that matches the outcome for `agreement` of the rows."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 6))
    score = features[:, 0] + 0.8 * features[:, 1] + rng.normal(scale=3.0, size=n)
    label = np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))
    code = np.where(rng.random(n) < agreement, label, (label + rng.integers(1, classes, n)) % classes)
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])
    frame["outcome_code"] = [f"C{c}" for c in code]
    frame["label"] = label
    return frame.iloc[: 2 * n // 3], frame.iloc[2 * n // 3:]


@pytest.mark.parametrize("classes", [2, 5])
def test_a_97_percent_code_is_the_leak_and_not_label_noise(classes):
    train, test = coded(classes=classes)
    report = nndoctor.audit(train, test=test, label="label", select=["feature-leakage", "label-issues"])
    [leak] = [f for f in report.findings if f.rule == "feature-leakage"]
    assert leak.where == "outcome_code" and 0.9 < leak.evidence["skill"] < 0.98
    assert "above the next best column" in leak.message
    blamed = [f for f in report.findings if f.rule == "label-issues"]
    assert blamed  # the quick model does flag the rows where the code disagrees...
    for finding in blamed:  # ...but must not call them label errors
        assert finding.severity == "info"
        assert "outcome_code" in finding.message and "feature-leakage" in finding.message
        assert not any("shuffl" in cause for cause in finding.causes)


def test_label_issues_keeps_its_verdict_without_a_leak():
    measured = {"label_issues": {"n_checked": 1000, "n_issues": 50, "model_accuracy": 0.97,
                                 "model_accuracy_unflagged": 0.99, "worst": []},
                "feature_leakage": {"columns": [{"column": "a", "skill": 0.5, "id_like": False, "kind": "numeric"},
                                                {"column": "b", "skill": 0.45, "id_like": False, "kind": "numeric"}],
                                    "n_rows": 1000, "metric": "m"}}
    [finding] = LabelIssues().check(measured)
    assert finding.severity == "warning" and "feature-leakage" not in finding.message


def column(name, skill):
    return {"column": name, "skill": skill, "id_like": False, "kind": "numeric"}


def test_lead_and_skill_thresholds():
    info = {"n_rows": 1000, "metric": "m"}
    rule = FeatureLeakage()
    assert rule.check({"feature_leakage": {**info, "columns": [column("a", 0.95), column("b", 0.5)]}})
    # Near-perfect but with a close runner-up (iris-like): two real signals, not a leak.
    assert rule.check({"feature_leakage": {**info, "columns": [column("a", 0.95), column("b", 0.8)]}}) == []
    # Far ahead but not near-perfect: a strong real feature.
    assert rule.check({"feature_leakage": {**info, "columns": [column("a", 0.85), column("b", 0.2)]}}) == []
    # Alone, with nothing to compare against, only the absolute threshold applies.
    assert rule.check({"feature_leakage": {**info, "columns": [column("a", 0.95)]}}) == []
    assert rule.check({"feature_leakage": {**info, "columns": [column("a", 0.95), column("b", 0.5)]}},
                      dominant_lead_min=0.5) == []


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer])
def test_real_datasets_with_strong_features_stay_silent(loader):
    frame = loader(as_frame=True).frame
    report = nndoctor.audit(frame, label="target", select=["feature-leakage"])
    assert "feature-leakage" in report.checks_run
    assert [f for f in report.findings if f.rule == "feature-leakage"] == []
