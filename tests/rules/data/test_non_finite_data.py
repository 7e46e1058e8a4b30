import numpy as np
import pandas as pd

import nndoctor

RULE = "non-finite-data"


def table(n=200, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = rng.integers(0, 2, n)
    return frame


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_nan_features_are_a_warning_listing_the_rows():
    frame = table()
    frame.loc[[3, 17, 42], "b"] = np.nan
    [finding] = findings(nndoctor.audit(frame, label="y", select=[RULE]))
    assert finding.severity == "warning"
    assert finding.where == [3, 17, 42]
    assert finding.evidence["columns"] == {"b": {"nan": 3, "inf": 0}}


def test_inf_is_an_error_and_nan_labels_are_reported_not_dropped_silently():
    frame = table()
    frame.loc[5, "a"] = np.inf
    frame["y"] = frame["y"].astype(float)
    frame.loc[[7, 8], "y"] = np.nan
    report = nndoctor.audit(frame, label="y", select=[RULE])
    by_kind = {("label" in f.message): f for f in findings(report)}
    assert by_kind[False].severity == "error" and by_kind[False].where == [5]
    assert by_kind[True].severity == "error"
    assert by_kind[True].evidence["missing_labels"] == 2 and by_kind[True].where == [7, 8]
    assert report.context["missing_labels"]["train"]["count"] == 2


def test_clean_table_is_silent():
    report = nndoctor.audit(table(), test=table(seed=1), label="y", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_threshold_on_rows():
    frame = table()
    frame.loc[[1, 2], "c"] = np.nan
    loose = nndoctor.audit(frame, label="y", select=[RULE], thresholds={RULE: {"max_non_finite_rows": 2}})
    assert findings(loose) == []
    strict = nndoctor.audit(frame, label="y", select=[RULE], thresholds={RULE: {"max_non_finite_rows": 1}})
    assert len(findings(strict)) == 1


def test_non_finite_embeddings_are_found():
    frame = table(50)
    embeddings = np.random.default_rng(2).normal(size=(50, 8)).astype(np.float32)
    embeddings[9, 3] = np.nan
    [finding] = findings(nndoctor.audit(frame, label="y", embeddings=embeddings, select=[RULE]))
    assert finding.where == [9] and "<embeddings>" in finding.evidence["columns"]
