import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import labels
from nndoctor.data.view import AuditOptions
from nndoctor.rules.data.label_issues import LabelIssues


def dataset(n=4000, flip_fraction=0.0, classes=2, seed=0):
    x, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes,
                               n_clusters_per_class=1, class_sep=3.0, flip_y=0, random_state=seed)
    names = np.array(["cat", "dog", "fox"][:classes])
    flipped = np.random.default_rng(seed).choice(n, int(flip_fraction * n), replace=False)
    y = y.copy()
    y[flipped] = (y[flipped] + 1) % classes
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(8)], index=np.arange(100_000, 100_000 + n))
    frame["y"] = names[y]
    return frame, set(frame.index[flipped])


def measured(frame, options=None, test_rows=800):
    data = load_audit_data({"train": frame.iloc[:-test_rows], "test": frame.iloc[-test_rows:]}, label="y")
    m = Measurements()
    labels.measure(data, m, options or AuditOptions(cv_folds=3))
    return m, data


def test_well_separated_clean_data_is_silent():
    frame, _ = dataset()
    m, _ = measured(frame)
    result = m["label_issues"]
    assert result["n_checked"] == 4000
    assert result["n_issues"] / result["n_checked"] < 0.005
    assert LabelIssues().check(m) == []


def test_planted_flips_are_found_and_listed():
    frame, planted = dataset(flip_fraction=0.05, classes=3)
    m, _ = measured(frame)
    finding = LabelIssues().check(m)[0]
    assert finding.severity == "warning"
    worst = finding.evidence["worst"]
    assert len(worst) == AuditOptions().max_listed_rows
    assert all(row["row_id"] in planted for row in worst)  # row ids as the user knows them
    assert all(row["given"] != row["suggested"] and row["self_confidence"] < 0.2 for row in worst)
    assert set(finding.evidence["per_split"]) == {"train", "test"}
    # the flagged count is close to the planted count (recall and precision both high)
    assert 0.8 * len(planted) <= finding.evidence["n_issues"] <= 1.3 * len(planted)


def test_sample_cap_is_applied_and_noted():
    frame, _ = dataset()
    m, data = measured(frame, options=AuditOptions(cv_folds=3, label_issues_sample_cap=1500))
    assert m["label_issues"]["n_checked"] <= 1500 and m["label_issues"]["sampled"]
    assert "cap 1500: label_issues_sample_cap" in data.notes["label_issues"]


def test_regression_and_missing_labels_are_skipped():
    frame, _ = dataset(n=600)
    frame["y"] = np.linspace(0.0, 1.0, len(frame))
    m, _ = measured(frame, test_rows=100)
    assert "regression" in m.unavailable["label_issues"]
    data = load_audit_data({"train": frame.drop(columns="y")})
    m = Measurements()
    labels.measure(data, m, AuditOptions())
    assert "no label column" in m.unavailable["label_issues"]


def test_many_classes_use_a_model_that_still_fits_them():
    x, y = make_classification(n_samples=3000, n_features=12, n_informative=10, n_classes=30,
                               n_clusters_per_class=1, class_sep=3.0, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(12)])
    frame.iloc[::17, 3] = np.nan
    frame["y"] = y
    flipped = np.random.default_rng(0).choice(len(frame), 150, replace=False)
    frame.loc[flipped, "y"] = (frame.loc[flipped, "y"] + 1) % 30
    m, _ = measured(frame, test_rows=600)
    result = m["label_issues"]
    assert result["model_accuracy_unflagged"] > 0.95
    finding = LabelIssues().check(m)[0]
    assert finding.severity == "warning"
    listed = [row["row_id"] in set(frame.index[flipped]) for row in finding.evidence["worst"]]
    assert sum(listed) >= 0.75 * len(listed)
    assert 0.8 * len(flipped) <= finding.evidence["n_issues"] <= 1.5 * len(flipped)
