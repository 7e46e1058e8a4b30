import numpy as np
import pandas as pd

from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import eval_size
from nndoctor.data.view import AuditOptions
from nndoctor.rules.data.eval_set_too_small import EvalSetTooSmall


def splits(n_train, n_val, n_test, regression=False):
    rng = np.random.default_rng(0)
    n = n_train + n_val + n_test
    frame = pd.DataFrame({"x": rng.normal(size=n)})
    frame["y"] = rng.normal(size=n) if regression else rng.choice(["a", "b"], n)
    return {"train": frame.iloc[:n_train], "val": frame.iloc[n_train:n_train + n_val],
            "test": frame.iloc[n_train + n_val:]}


def judged(inputs, options=None):
    data = load_audit_data(inputs, label="y")
    m = Measurements()
    eval_size.measure(data, m, options or AuditOptions())
    return m, EvalSetTooSmall().check(m)


def test_tiny_validation_split_warns_and_large_test_is_silent():
    m, findings = judged(splits(5000, 200, 10_000))
    assert [entry["split"] for entry in m["eval_sizes"]] == ["val", "test"]
    assert [(f.where, f.severity) for f in findings] == [("val", "warning")]
    assert findings[0].evidence["rows_needed"] == 2398


def test_assumed_accuracy_narrows_the_interval():
    _, worst_case = judged(splits(5000, 300, 600))
    assert [(f.where, f.severity) for f in worst_case] == [("val", "warning"), ("test", "info")]
    m, findings = judged(splits(5000, 300, 600), options=AuditOptions(assumed_accuracy=0.95))
    assert m["eval_sizes"][0]["accuracy_given"] is True
    assert [(f.where, f.severity) for f in findings] == [("val", "info")]
    assert "assumed accuracy 0.95" in findings[0].message


def test_regression_uses_the_mse_interval():
    _, findings = judged(splits(2000, 100, 900, regression=True))
    assert [(f.where, f.severity) for f in findings] == [("val", "warning")]
    assert findings[0].evidence["rows_needed"] == 769
