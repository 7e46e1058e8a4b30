import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import balance, eval_size
from nndoctor.data.view import AuditOptions
from nndoctor.rules.data.class_imbalance import ClassImbalance
from nndoctor.rules.data.stratification_mismatch import StratificationMismatch


def table(n, shares, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["y"] = rng.choice(list(shares), size=n, p=list(shares.values()))
    return frame


def measured(train, **splits):
    data = load_audit_data({"train": train, **splits}, label="y")
    m = Measurements()
    balance.measure(data, m, AuditOptions())
    eval_size.measure(data, m, AuditOptions())
    return m


def test_stratified_sklearn_split_is_silent():
    frame = table(5000, {"common": 0.90, "mid": 0.08, "rare": 0.02})
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["y"], random_state=0)
    m = measured(train, test=test)
    assert m["class_balance"]["counts"] == train["y"].value_counts().to_dict()
    comparison = m["stratification"][0]
    assert comparison["p_value"] > 0.9 and comparison["max_abs_diff"] < 0.002
    assert StratificationMismatch().check(m) == []
    counts = train["y"].value_counts()
    assert ClassImbalance().check(m)[0].evidence["ratio"] == pytest.approx(counts.max() / counts.min(), abs=1e-3)


def test_random_unstratified_split_of_balanced_data_is_silent():
    frame = table(4000, {"a": 0.5, "b": 0.5})
    train, test = train_test_split(frame, test_size=0.25, random_state=3)
    m = measured(train, test=test)
    assert StratificationMismatch().check(m) == []
    assert ClassImbalance().check(m) == []


def test_sorted_split_fires_with_the_planted_class():
    frame = table(5000, {"healthy": 0.8, "tumour": 0.2}).sort_values("y")
    train, test = frame.iloc[:4500], frame.iloc[4500:]  # the test split gets mostly 'tumour'
    m = measured(train, test=test)
    comparison = m["stratification"][0]
    expected_gap = abs((train["y"] == "tumour").mean() - (test["y"] == "tumour").mean())
    assert comparison["max_abs_diff"] == pytest.approx(expected_gap, abs=1e-6)
    finding = StratificationMismatch().check(m)[0]
    assert finding.evidence["split"] == "test" and finding.evidence["p_value"] < 1e-10


def test_missing_class_is_reported_with_expected_rows():
    frame = table(4000, {"a": 0.6, "b": 0.35, "c": 0.05})
    train, test = train_test_split(frame, test_size=0.25, stratify=frame["y"], random_state=0)
    test = test[test["y"] != "c"]
    m = measured(train, test=test)
    missing = m["stratification"][0]["missing_classes"]
    assert missing[0]["class"] == "c" and missing[0]["expected_rows"] == pytest.approx(0.05 * len(test), rel=0.2)
    assert "'c' have no rows in test" in StratificationMismatch().check(m)[0].message


def test_regression_and_train_only_are_skipped_with_reasons():
    frame = table(500, {"a": 0.5, "b": 0.5})
    frame["y"] = np.linspace(0, 1, len(frame))
    m = measured(frame.iloc[:400], test=frame.iloc[400:])
    assert "regression" in m.unavailable["class_balance"]
    assert m["eval_sizes"][0]["task"] == "regression"
    m = measured(table(500, {"a": 0.5, "b": 0.5}))
    assert "only a train split" in m.unavailable["stratification"]
    assert "only a train split" in m.unavailable["eval_sizes"]


def test_eval_sizes_report_labelled_rows_and_smallest_class():
    frame = table(3000, {"a": 0.9, "b": 0.1})
    train, test = train_test_split(frame, test_size=500, stratify=frame["y"], random_state=0)
    entry = measured(train, test=test)["eval_sizes"][0]
    assert entry["n"] == 500 and entry["smallest_class"] == "b"
    assert entry["smallest_class_n"] == (test["y"] == "b").sum()
    assert entry["assumed_accuracy"] == 0.5 and entry["accuracy_given"] is False


def test_validation_and_test_are_compared_with_each_other():
    frame = table(6000, {"a": 0.7, "b": 0.3})
    train, rest = train_test_split(frame, test_size=0.4, stratify=frame["y"], random_state=0)
    val, test = train_test_split(rest, test_size=0.5, stratify=rest["y"], random_state=0)
    m = measured(train, val=val, test=test)
    assert [(c["reference"], c["split"]) for c in m["stratification"]] == [
        ("train", "val"), ("train", "test"), ("val", "test")]
    assert StratificationMismatch().check(m) == []
    test = pd.concat([test, test[test["y"] == "b"]])  # doubled 'b' rows in test only
    findings = StratificationMismatch().check(measured(train, val=val, test=test))
    assert {(f.evidence["reference"], f.evidence["split"]) for f in findings} == {("train", "test"), ("val", "test")}
    assert "of val but" in findings[-1].message


def test_grouped_rows_count_as_groups_not_rows():
    from scipy.stats import chi2_contingency

    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(100), 30)
    sick = rng.random(100) < 0.5
    frame = pd.DataFrame({"x": rng.normal(size=len(patients)), "patient": patients,
                          "y": np.where(sick[patients], "sick", "well")})
    train, test = frame[frame.patient < 75], frame[frame.patient >= 75]
    data = load_audit_data({"train": train, "test": test}, label="y", group="patient")
    m = Measurements()
    balance.measure(data, m, AuditOptions())
    comparison = m["stratification"][0]
    assert comparison["design_effect"] == 30.0
    table = pd.crosstab(np.r_[np.zeros(len(train)), np.ones(len(test))], np.r_[train.y, test.y])
    assert comparison["chi2"] == pytest.approx(chi2_contingency(table, correction=False)[0] / 30, rel=1e-3)
    assert StratificationMismatch().check(m) == []
    # a real mismatch survives the correction: the test split holds only sick patients
    test = frame[(frame.patient >= 50) & sick[frame.patient]]
    data = load_audit_data({"train": frame[frame.patient < 50], "test": test}, label="y", group="patient")
    m = Measurements()
    balance.measure(data, m, AuditOptions())
    assert len(StratificationMismatch().check(m)) == 1
