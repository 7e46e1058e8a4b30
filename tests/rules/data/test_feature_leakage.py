import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import nndoctor

RULE = "feature-leakage"


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def admissions(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(20, 90, n), "temperature": rng.normal(37.2, 0.8, n), "ward": rng.choice(list("ABCD"), n),
    })
    frame["readmitted"] = (frame["temperature"] + rng.normal(0, 1, n) > 37.5).map({True: "yes", False: "no"})
    return frame


def test_a_column_recorded_after_the_outcome_is_found():
    frame = admissions()
    # a follow-up code that is only filled in once the outcome is known
    frame["followup_code"] = np.where(frame["readmitted"] == "yes", "F-READM", "F-NONE")
    frame["days_to_followup"] = np.where(frame["readmitted"] == "yes", 10.0, 40.0) + np.random.default_rng(1).normal(0, 2, len(frame))
    found = {f.where: f for f in findings(nndoctor.audit(frame, label="readmitted", select=[RULE]))}
    assert set(found) == {"followup_code", "days_to_followup"}
    assert found["followup_code"].severity == "warning"
    assert found["followup_code"].evidence["skill"] == 1.0
    assert found["followup_code"].evidence["model"] == "category→label table"


def test_row_id_assigned_after_sorting_by_label_is_found():
    frame = admissions().sort_values("readmitted").reset_index(drop=True)
    frame.insert(0, "record_id", np.arange(100_000, 100_000 + len(frame)))
    [finding] = findings(nndoctor.audit(frame, label="readmitted", select=[RULE]))
    assert finding.where == "record_id" and finding.evidence["id_like"] is True
    shuffled = frame.sample(frac=1.0, random_state=0)
    shuffled["record_id"] = np.arange(len(shuffled))
    assert findings(nndoctor.audit(shuffled, label="readmitted", select=[RULE])) == []


def test_real_strong_features_are_silent():
    data = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(data, test_size=0.2, stratify=data["target"], random_state=0)
    report = nndoctor.audit(train, test=test, label="target", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_regression_copy_of_the_target_is_found():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=1500), "z": rng.normal(size=1500)})
    frame["price"] = 3 * frame["x"] + rng.normal(size=1500)
    frame["price_in_cents"] = frame["price"] * 100
    [finding] = findings(nndoctor.audit(frame, label="price", select=[RULE]))
    assert finding.where == "price_in_cents" and finding.evidence["skill"] > 0.98


def test_skill_threshold_and_sampling_is_reported():
    frame = admissions()
    report = nndoctor.audit(frame, label="readmitted", select=[RULE], model_sample_cap=500,
                            thresholds={RULE: {"feature_skill_min": 0.3}})
    assert [f.where for f in findings(report)] == ["temperature"]
    assert "500 of 2000" in report.context["feature_leakage_sample"]


def test_score_matches_sklearn():
    from sklearn.metrics import balanced_accuracy_score, r2_score

    from nndoctor.data.measures.feature_leakage import _score

    rng = np.random.default_rng(5)
    target, predictions = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    predictions[:300] = target[:300]
    expected = (balanced_accuracy_score(target, predictions) - 1 / 3) / (2 / 3)
    assert abs(_score(target, predictions.astype(float), True) - expected) < 1e-12
    values = rng.normal(size=400)
    guess = values + rng.normal(scale=0.5, size=400)
    assert abs(_score(values, guess, False) - r2_score(values, guess)) < 1e-12
