import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

import nndoctor

RULE = "split-overlap-exact"


def patients(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "age": rng.integers(18, 90, n), "bmi": rng.normal(27, 4, n).round(1),
        "glucose": rng.normal(100, 20, n).round(2), "sex": rng.choice(["f", "m"], n),
    })
    frame["y"] = (frame["glucose"] + rng.normal(0, 20, n) > 110).astype(int)
    return frame


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_test_rows_copied_from_train_are_found_with_their_ids():
    train, test = train_test_split(patients(), test_size=0.2, random_state=0)
    leaked = train.iloc[:30].copy()
    leaked.index = range(10_000, 10_030)
    test = pd.concat([test, leaked])
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.severity == "error"
    assert finding.evidence["overlap_rows"] == 30
    assert finding.where == list(range(10_000, 10_020))  # capped at max_listed_rows
    assert finding.evidence["matching_train_rows"] == train.index[:10].tolist()
    assert finding.evidence["same_label_fraction"] == 1.0


def test_stratified_split_is_silent():
    data = patients()
    train, rest = train_test_split(data, test_size=0.3, stratify=data["y"], random_state=0)
    val, test = train_test_split(rest, test_size=0.5, stratify=rest["y"], random_state=0)
    report = nndoctor.audit(train, val=val, test=test, label="y", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_coarse_categorical_rows_repeat_by_chance_and_are_silent():
    rng = np.random.default_rng(5)
    survey = pd.DataFrame({c: rng.choice(["a", "b", "c"], 2000) for c in ("q1", "q2", "q3")})
    survey["y"] = rng.integers(0, 2, 2000)
    train, test = train_test_split(survey, test_size=0.25, random_state=0)
    assert findings(nndoctor.audit(train, test=test, label="y", select=[RULE])) == []


def test_below_error_fraction_is_a_warning_and_rows_min_is_respected():
    train, test = train_test_split(patients(), test_size=0.2, random_state=0)
    leaked = train.iloc[:3].copy()
    leaked.index = range(10_000, 10_003)
    test = pd.concat([test, leaked])  # 3 of 603 rows = 0.5% < 1%
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.severity == "warning"
    raised = nndoctor.audit(train, test=test, label="y", select=[RULE], thresholds={RULE: {"overlap_rows_min": 4}})
    assert findings(raised) == []


def test_val_and_test_overlap_is_checked_too():
    train, rest = train_test_split(patients(), test_size=0.4, random_state=1)
    val, test = train_test_split(rest, test_size=0.5, random_state=1)
    test = pd.concat([test, val.iloc[:40]])
    [finding] = findings(nndoctor.audit(train, val=val, test=test, label="y", select=[RULE]))
    assert finding.evidence["splits"] == ["val", "test"]
