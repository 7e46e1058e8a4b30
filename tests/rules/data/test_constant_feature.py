import numpy as np
import pandas as pd

import nndoctor

RULE = "constant-feature"


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])
    frame["site"] = rng.choice(["north", "south"], n)
    frame["y"] = rng.integers(0, 2, n)
    return frame


def findings(report):
    return [f for f in report.findings if f.rule == RULE]


def test_constant_in_train_but_varying_in_test_is_a_warning():
    train, test = table(), table(seed=1)
    train["site"] = "north"
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.severity == "warning"
    assert finding.where == ["site"]
    assert finding.evidence["varies_in"] == {"site": ["test"]}


def test_constant_everywhere_is_only_a_note():
    train, test = table(), table(seed=1)
    train["version"] = 3
    test["version"] = 3
    [finding] = findings(nndoctor.audit(train, test=test, label="y", select=[RULE]))
    assert finding.severity == "info" and finding.where == ["version"]


def test_varied_columns_are_silent():
    assert findings(nndoctor.audit(table(), test=table(seed=1), label="y", select=[RULE])) == []


def test_too_few_rows_to_judge():
    train = table(15)
    train["site"] = "north"
    assert findings(nndoctor.audit(train, label="y", select=[RULE])) == []
    lowered = nndoctor.audit(train, label="y", select=[RULE], thresholds={RULE: {"min_train_rows": 15}})
    assert len(findings(lowered)) == 1
