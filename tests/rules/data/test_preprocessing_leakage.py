import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import nndoctor

RULE = "preprocessing-leakage"
COLUMNS = ["creatinine", "albumin", "sodium", "age", "weight"]


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def labs(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal([1.0, 40.0, 140.0, 55.0, 75.0], [0.3, 5.0, 3.0, 15.0, 12.0], size=(n, 5))
    return values, rng.integers(0, 2, n)


def frames(train_values, test_values, y_train, y_test):
    train = pd.DataFrame(train_values, columns=COLUMNS).assign(y=y_train)
    test = pd.DataFrame(test_values, columns=COLUMNS).assign(y=y_test)
    return train, test


def test_scaler_fitted_before_the_split_is_found():
    values, y = labs()
    scaled = StandardScaler().fit_transform(values)
    x_train, x_test, y_train, y_test = train_test_split(scaled, y, test_size=0.2, random_state=0)
    train, test = frames(x_train, x_test, y_train, y_test)
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.severity == "warning"
    assert finding.evidence["fitted_on"] == "train+test"
    assert finding.evidence["columns"] == 5 and sorted(finding.where) == sorted(COLUMNS)


def test_scaler_fitted_on_train_alone_is_silent():
    values, y = labs()
    x_train, x_test, y_train, y_test = train_test_split(values, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(x_train)
    train, test = frames(scaler.transform(x_train), scaler.transform(x_test), y_train, y_test)
    report = nndoctor.audit(train, test=test, label="y", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_raw_unscaled_data_is_silent():
    values, y = labs()
    x_train, x_test, y_train, y_test = train_test_split(values, y, test_size=0.2, random_state=0)
    train, test = frames(x_train, x_test, y_train, y_test)
    assert findings(nndoctor.audit(train, test=test, label="y", select=[RULE])) == []


def test_train_plus_val_fit_with_held_out_test_is_found():
    values, y = labs(3000)
    x_rest, x_test, y_rest, y_test = train_test_split(values, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(x_rest)  # fitted on train+val "to use more data"
    x_train, x_val, y_train, y_val = train_test_split(scaler.transform(x_rest), y_rest, test_size=0.25, random_state=0)
    train = pd.DataFrame(x_train, columns=COLUMNS).assign(y=y_train)
    val = pd.DataFrame(x_val, columns=COLUMNS).assign(y=y_val)
    test = pd.DataFrame(scaler.transform(x_test), columns=COLUMNS).assign(y=y_test)
    [finding] = findings(nndoctor.audit(train, val=val, test=test, label="y", select=[RULE]))
    assert finding.evidence["fitted_on"] == "train+val"


def test_each_split_scaled_on_its_own_is_found():
    values, y = labs()
    x_train, x_test, y_train, y_test = train_test_split(values, y, test_size=0.2, random_state=0)
    train, test = frames(StandardScaler().fit_transform(x_train), StandardScaler().fit_transform(x_test), y_train, y_test)
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.evidence["fitted_on"] == "each split on its own"


def test_column_count_threshold():
    values, y = labs()
    scaled = values.copy()
    scaled[:, :2] = StandardScaler().fit_transform(values[:, :2])  # only 2 of 5 columns, globally
    x_train, x_test, y_train, y_test = train_test_split(scaled, y, test_size=0.2, random_state=0)
    train, test = frames(x_train, x_test, y_train, y_test)
    assert findings(nndoctor.audit(train, test=test, label="y", select=[RULE])) == []  # 40% < 50%
    lowered = nndoctor.audit(train, test=test, label="y", select=[RULE], thresholds={RULE: {"column_fraction_min": 0.4}})
    assert findings(lowered)[0].evidence["columns"] == 2
