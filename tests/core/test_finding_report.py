import json

import numpy as np
import pytest

from nndoctor.core import Finding, Report, SkippedCheck


def make_finding(severity="warning", step=3):
    return Finding(
        rule="update-ratio-high",
        severity=severity,
        message="update/weight ratio 0.3 is above 0.01",
        step=step,
        where=["fc1.weight"],
        evidence={"ratio": np.float32(0.3), "history": np.array([0.1, float("nan")])},
        causes=["learning rate too high"],
        fixes=["lower the learning rate"],
    )


def test_evidence_becomes_plain_json_types():
    finding = make_finding()
    assert finding.evidence["ratio"] == pytest.approx(0.3)
    assert finding.evidence["history"] == [pytest.approx(0.1), "nan"]
    json.dumps(finding.to_dict(), allow_nan=False)


def test_report_json_round_trip_keeps_everything():
    report = Report(
        command="preflight",
        findings=[make_finding("info"), make_finding("error", step=None)],
        checks_run=["update-ratio-high"],
        checks_skipped=[SkippedCheck("overfitting", "no validation loss was logged")],
        context={"model": "MLP"},
    )
    data = json.loads(report.to_json())
    assert data["command"] == "preflight"
    assert data["findings"][0]["severity"] == "error"  # worst first
    assert data["checks_skipped"] == [{"rule": "overfitting", "reason": "no validation loss was logged"}]
    again = Report.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()


def test_report_from_json_path(tmp_path):
    path = tmp_path / "r.json"
    Report(command="audit", checks_run=["x"]).to_json(path)
    assert Report.from_json(path).command == "audit"


@pytest.mark.parametrize(
    "severities, fail_on, expected",
    [
        ([], "error", 0),
        (["warning"], "error", 0),
        (["warning"], "warning", 1),
        (["info"], "warning", 0),
        (["error"], "error", 1),
    ],
)
def test_exit_codes(severities, fail_on, expected):
    report = Report(command="x", checks_run=["a"], findings=[make_finding(s) for s in severities])
    assert report.exit_code(fail_on) == expected


def test_exit_code_two_when_nothing_was_checked():
    assert Report(command="x").exit_code() == 2


def test_invalid_severity_and_rule_id_rejected():
    with pytest.raises(ValueError):
        Finding(rule="x", severity="fatal", message="m")
    with pytest.raises(ValueError):
        Finding(rule="Not_Kebab", severity="info", message="m")


def test_extend_merges_checks_without_duplicates():
    first = Report(command="run", checks_run=["a"], checks_skipped=[SkippedCheck("b", "why")])
    second = Report(command="run", checks_run=["a", "b"], findings=[make_finding()])
    first.extend(second)
    assert first.checks_run == ["a", "b"]
    assert first.checks_skipped == []
    assert len(first.findings) == 1
