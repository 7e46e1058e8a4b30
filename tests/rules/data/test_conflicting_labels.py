import numpy as np
import pandas as pd

import nndoctor

RULE = "conflicting-labels"


def measurements(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = rng.choice(["cat", "dog"], n)
    return frame


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_identical_inputs_with_different_labels_are_listed():
    frame = measurements()
    relabelled = frame.iloc[:6].copy()
    relabelled["y"] = relabelled["y"].map({"cat": "dog", "dog": "cat"})
    relabelled.index = range(2000, 2006)
    [finding] = findings(nndoctor.audit(pd.concat([frame, relabelled]), label="y", select=[RULE]))
    assert finding.severity == "warning"
    assert finding.evidence["conflicting_rows"] == 12
    assert set(finding.where) == set(range(6)) | set(range(2000, 2006))
    assert sorted(finding.evidence["example_groups"][0]["labels"]) == ["cat", "dog"]


def test_exact_copies_with_the_same_label_are_not_conflicts():
    frame = measurements()
    report = nndoctor.audit(pd.concat([frame, frame.iloc[:20]], ignore_index=True), label="y", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_regression_replicates_are_not_judged():
    frame = measurements()
    frame["y"] = np.random.default_rng(1).normal(size=len(frame))
    report = nndoctor.audit(pd.concat([frame, frame.iloc[:5].assign(y=0.3)]), label="y", select=[RULE])
    assert findings(report) == []
    assert any(s.rule == RULE and "regression" in s.reason for s in report.checks_skipped)


def test_rows_threshold():
    frame = measurements()
    pair = frame.iloc[:1].assign(y="dog" if frame["y"].iloc[0] == "cat" else "cat")
    data = pd.concat([frame, pair], ignore_index=True)
    assert len(findings(nndoctor.audit(data, label="y", select=[RULE]))) == 1
    raised = nndoctor.audit(data, label="y", select=[RULE], thresholds={RULE: {"conflicting_rows_min": 3}})
    assert findings(raised) == []
