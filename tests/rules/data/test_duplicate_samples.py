import numpy as np
import pandas as pd

import nndoctor

RULE = "duplicate-samples"


def measurements(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"m{i}" for i in range(5)])
    frame["y"] = rng.integers(0, 3, n)
    return frame


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_planted_copies_are_found_even_under_new_ids():
    frame = measurements()
    frame["record_id"] = [f"r{i:05d}" for i in range(len(frame))]
    copies = frame.iloc[:100].copy()
    copies["record_id"] = [f"copy{i:04d}" for i in range(100)]
    copies.index = range(5000, 5100)
    data = pd.concat([frame, copies])
    [finding] = findings(nndoctor.audit(data, label="y", select=[RULE]))
    assert finding.severity == "warning"
    assert finding.evidence["duplicate_rows"] == 100
    assert finding.where[:2] == [0, 5000]  # each original listed with its copy


def test_distinct_measurements_are_silent():
    report = nndoctor.audit(measurements(), test=measurements(seed=1), label="y", select=[RULE])
    assert findings(report) == [] and RULE in report.checks_run


def test_natural_repeats_of_a_coarse_categorical_table_are_silent():
    rng = np.random.default_rng(3)
    survey = pd.DataFrame({
        "smoker": rng.choice(["yes", "no"], 3000),
        "age_band": rng.choice(["<30", "30-60", ">60"], 3000),
        "region": rng.choice(["n", "s", "e", "w"], 3000),
        "y": rng.integers(0, 2, 3000),
    })
    assert findings(nndoctor.audit(survey, label="y", select=[RULE])) == []


def test_fraction_threshold():
    frame = measurements(1000)
    data = pd.concat([frame, frame.iloc[:10]], ignore_index=True)  # 10 of 1010 rows ≈ 0.99%
    assert findings(nndoctor.audit(data, label="y", select=[RULE])) == []
    lowered = nndoctor.audit(data, label="y", select=[RULE], thresholds={RULE: {"duplicate_fraction_min": 0.009}})
    assert len(findings(lowered)) == 1
