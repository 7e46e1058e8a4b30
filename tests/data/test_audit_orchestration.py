"""audit(): measure discovery, crash containment, skipped checks, context and extras."""
import sys

import numpy as np
import pandas as pd
import pytest

import nndoctor
from nndoctor.data import audit as audit_module
from nndoctor.data.extra import MissingExtraError, require
from nndoctor.data.measures import integrity


def table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd")).assign(y=rng.integers(0, 2, n))


def test_every_measure_module_is_discovered():
    names = {module.__name__.rsplit(".", 1)[-1] for module in audit_module.measure_modules()}
    assert {"integrity", "overlap", "groups", "feature_leakage", "preprocessing"} <= names


def test_clean_data_runs_checks_and_reports_context():
    report = nndoctor.audit(table(), test=table(seed=1), label="y")
    mine = {"length-mismatch", "non-finite-data", "duplicate-samples", "conflicting-labels",
            "split-overlap-exact", "split-overlap-near", "feature-leakage", "preprocessing-leakage"}
    assert mine <= set(report.checks_run)
    assert not [f for f in report.findings if f.rule in mine]
    assert report.command == "audit"
    assert report.context["splits"] == {"train": 300, "test": 300}
    assert report.context["task"] == "classification"
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "--group" in skipped["group-leakage"]


def test_a_crashing_measure_becomes_an_internal_error_and_others_still_run(monkeypatch):
    def broken(data, m, options):
        raise RuntimeError("boom")

    monkeypatch.setattr(integrity, "measure", broken)
    report = nndoctor.audit(table(), test=table(seed=1), label="y")
    [fault] = [f for f in report.findings if f.rule == "internal-error"]
    assert "integrity" in fault.message and "boom" in fault.message
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "integrity measure failed" in skipped["duplicate-samples"]
    assert "split-overlap-exact" in report.checks_run


def test_select_and_ignore():
    report = nndoctor.audit(table(), label="y", select=["duplicate-samples"])
    assert set(report.checks_run) == {"duplicate-samples", "internal-error"}
    report = nndoctor.audit(table(), label="y", ignore=["feature-leakage"])
    assert "feature-leakage" not in report.checks_run
    with pytest.raises(nndoctor.UsageError, match="unknown rule"):
        nndoctor.audit(table(), label="y", select=["no-such-rule"])


def test_missing_extra_gives_the_install_hint(monkeypatch):
    with pytest.raises(MissingExtraError, match=r"pip install 'nndoctor\[data\]'"):
        require("a_package_that_is_not_installed")
    monkeypatch.setitem(sys.modules, "faiss", None)  # as if faiss-cpu were not installed
    report = nndoctor.audit(table(), test=table(seed=1), label="y", select=["split-overlap-near"])
    [skipped] = [s for s in report.checks_skipped if s.rule == "split-overlap-near"]
    assert "faiss-cpu" in skipped.reason and "nndoctor[data]" in skipped.reason


def test_only_train_skips_split_checks_with_reasons():
    report = nndoctor.audit(table(), label="y")
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "only a train split" in skipped["split-overlap-exact"]
    assert "only a train split" in skipped["preprocessing-leakage"]


def test_report_round_trips_through_json():
    train = table()
    test = pd.concat([table(seed=1), train.iloc[:20]])
    report = nndoctor.audit(train, test=test, label="y")
    again = nndoctor.Report.from_json(report.to_json())
    assert "split-overlap-exact" in again.rules_found()


MY_RULES = ["length-mismatch", "non-finite-data", "constant-feature", "duplicate-samples", "conflicting-labels",
            "split-overlap-exact", "split-overlap-near", "group-leakage", "feature-leakage", "preprocessing-leakage"]


def test_realistic_clean_pipeline_is_silent():
    """A careful pipeline: ids kept, categorical and integer columns, a stratified 3-way split
    and a scaler fitted on train alone — none of the leakage/integrity rules may fire."""
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(7)
    n = 4000
    data = pd.DataFrame({
        "customer_id": [f"C{i:06d}" for i in rng.permutation(n)],
        "age": rng.integers(18, 80, n), "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.6, 0.3, 0.1]),
        "monthly_spend": rng.gamma(2.0, 20.0, n), "support_calls": rng.poisson(1.5, n),
        "tenure_months": rng.integers(1, 120, n).astype(float),
    })
    risk = 0.04 * data["support_calls"] - 0.01 * data["tenure_months"] + rng.normal(0, 0.5, n)
    data["churned"] = (risk > 0).astype(int)
    train, rest = train_test_split(data, test_size=0.3, stratify=data["churned"], random_state=0)
    val, test = train_test_split(rest, test_size=0.5, stratify=rest["churned"], random_state=0)
    scaled = ["monthly_spend", "tenure_months"]
    scaler = StandardScaler().fit(train[scaled])
    train, val, test = (part.assign(**dict(zip(scaled, scaler.transform(part[scaled]).T))) for part in (train, val, test))
    report = nndoctor.audit(train, val=val, test=test, label="churned", select=MY_RULES)
    assert [f.message for f in report.findings] == []
    assert set(MY_RULES) - {"group-leakage"} <= set(report.checks_run)
