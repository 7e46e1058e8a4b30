import numpy as np
import pandas as pd
from sklearn.model_selection import GroupShuffleSplit, train_test_split

import nndoctor

RULE = "group-leakage"


def visits(patients=300, per_patient=4, seed=0):
    rng = np.random.default_rng(seed)
    n = patients * per_patient
    return pd.DataFrame({
        "patient_id": np.repeat([f"P{i:04d}" for i in range(patients)], per_patient),
        "heart_rate": rng.normal(70, 10, n), "bp": rng.normal(120, 15, n), "y": rng.integers(0, 2, n),
    })


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_random_row_split_of_patients_leaks():
    train, test = train_test_split(visits(), test_size=0.2, random_state=0)
    [finding] = findings(nndoctor.audit(train, test=test, label="y", group="patient_id", select=[RULE]))
    assert finding.severity == "error"
    assert finding.evidence["column"] == "patient_id"
    shared = set(train["patient_id"]) & set(test["patient_id"])
    assert finding.evidence["shared_groups"] == len(shared)
    assert all(test.loc[row, "patient_id"] in shared for row in finding.where)


def test_group_shuffle_split_is_silent():
    data = visits()
    train_rows, test_rows = next(GroupShuffleSplit(test_size=0.2, random_state=0).split(data, groups=data["patient_id"]))
    report = nndoctor.audit(data.iloc[train_rows], test=data.iloc[test_rows], label="y", group="patient_id",
                            select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_without_group_column_the_check_is_skipped_with_a_reason():
    train, test = train_test_split(visits(), test_size=0.2, random_state=0)
    report = nndoctor.audit(train, test=test, label="y", select=[RULE])
    assert any(s.rule == RULE and "--group" in s.reason for s in report.checks_skipped)


def test_single_shared_patient_crosses_the_threshold():
    data = visits()
    train_rows, test_rows = next(GroupShuffleSplit(test_size=0.2, random_state=0).split(data, groups=data["patient_id"]))
    train, test = data.iloc[train_rows], data.iloc[test_rows].copy()
    test.iloc[0, test.columns.get_loc("patient_id")] = train["patient_id"].iloc[0]
    [finding] = findings(nndoctor.audit(train, test=test, label="y", group="patient_id", select=[RULE]))
    assert finding.evidence["shared_groups"] == 1 and finding.where == [test.index[0]]
    raised = nndoctor.audit(train, test=test, label="y", group="patient_id", select=[RULE],
                            thresholds={RULE: {"shared_groups_min": 2}})
    assert findings(raised) == []
