"""End to end through nndoctor.audit: realistic clean splits stay quiet, planted problems fire."""
import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import nndoctor

MINE = {"class-imbalance", "stratification-mismatch", "split-shift", "source-predictable", "label-issues",
        "annotator-disagreement", "eval-set-too-small"}


def frame(n=8000, weights=None, seed=0):
    x, y = make_classification(n_samples=n, n_features=6, n_informative=4, n_clusters_per_class=1,
                               class_sep=3.0, weights=weights, random_state=seed)
    data = pd.DataFrame(x, columns=[f"f{i}" for i in range(6)])
    data["y"] = np.where(y == 1, "positive", "negative")
    rng = np.random.default_rng(seed)
    data["lab"] = rng.choice(["lab_a", "lab_b"], n)
    for name in ("ann1", "ann2"):
        data[name] = np.where(rng.random(n) < 0.98, data["y"], "negative")
    return data


def mine(report):
    return {(f.rule, f.severity) for f in report.findings if f.rule in MINE}


def test_clean_stratified_split_is_silent():
    data = frame()
    train, test = train_test_split(data, test_size=0.35, stratify=data["y"], random_state=0)
    report = nndoctor.audit(train, test=test, label="y", source="lab", annotators=["ann1", "ann2"],
                            cv_folds=3)
    assert mine(report) == set()
    assert MINE <= set(report.checks_run)


def test_planted_problems_fire():
    data = frame(weights=[0.95, 0.05])
    train, test = train_test_split(data, test_size=0.2, random_state=0)
    test = pd.concat([test[test.y == "positive"], test[test.y == "negative"].iloc[:150]])  # too small, skewed
    test["f5"] += 2.0  # shift
    train = train.copy()
    train.loc[train.lab == "lab_b", "f4"] += 3.0  # batch effect
    flipped = train.sample(frac=0.04, random_state=0).index
    train.loc[flipped, "y"] = np.where(train.loc[flipped, "y"] == "positive", "negative", "positive")
    train["ann2"] = np.random.default_rng(1).choice(["positive", "negative"], len(train))
    report = nndoctor.audit(train, test=test, label="y", source="lab", annotators=["ann1", "ann2"],
                            cv_folds=3)
    rules = {rule for rule, _ in mine(report)}
    assert rules == MINE
    shift = next(f for f in report.findings if f.rule == "split-shift")
    assert shift.evidence["top_features"][0]["feature"] == "f5"
    source = next(f for f in report.findings if f.rule == "source-predictable")
    assert source.evidence["top_features"][0]["feature"] == "f4"
    issues = next(f for f in report.findings if f.rule == "label-issues")
    listed = [int(where.split(":")[1]) for where in issues.where if where.startswith("train:")]
    assert listed and set(listed) <= set(flipped)


def test_clean_grouped_split_with_train_fitted_scaling_is_silent():
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(200), 20)
    signature = rng.normal(scale=2.0, size=(200, 5))  # every patient's rows cluster together
    x = signature[patients] + 0.3 * rng.normal(size=(len(patients), 5))
    data = pd.DataFrame(x * [1, 10, 100, 0.1, 3] + 5, columns=[f"g{i}" for i in range(5)])
    data["y"] = np.where(signature[patients, 0] > 0, "sick", "well")
    data["patient"] = patients
    train_rows, test_rows = next(GroupShuffleSplit(test_size=0.3, random_state=0).split(data, groups=patients))
    train, test = data.iloc[train_rows].copy(), data.iloc[test_rows].copy()
    columns = [f"g{i}" for i in range(5)]
    scaler = StandardScaler().fit(train[columns])
    train[columns], test[columns] = scaler.transform(train[columns]), scaler.transform(test[columns])
    report = nndoctor.audit(train, test=test, label="y", group="patient", cv_folds=3)
    assert {rule for rule, severity in mine(report) if severity != "info"} == set()
    assert {"split-shift", "label-issues", "stratification-mismatch"} <= set(report.checks_run)
