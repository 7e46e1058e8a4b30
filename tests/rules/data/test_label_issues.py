from nndoctor.rules.data.label_issues import LabelIssues


def issues(n_issues, n_checked=10000, accuracy=0.99):
    worst = [{"split": "train", "row_id": 4711, "given": "cat", "suggested": "dog", "self_confidence": 0.003},
             {"split": "test", "row_id": 12, "given": "dog", "suggested": "cat", "self_confidence": 0.01}]
    return {"label_issues": {"n_checked": n_checked, "n_issues": n_issues, "model_accuracy": accuracy - 0.05,
                             "model_accuracy_unflagged": accuracy,
                             "sampled": False, "sample_cap": 20000, "worst": worst,
                             "per_split": {"train": n_issues - 1, "test": 1}}}


def test_fires_and_lists_worst_rows():
    findings = LabelIssues().check(issues(512))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "label-issues" and finding.severity == "warning"
    assert finding.evidence["n_issues"] == 512 and finding.evidence["fraction"] == 0.0512
    assert finding.where == ["train:4711", "test:12"]
    assert "train row 4711 labelled 'cat', model says 'dog'" in finding.message


def test_clean_data_is_silent():
    assert LabelIssues().check(issues(0)) == []
    assert LabelIssues().check(issues(30)) == []


def test_weak_model_downgrades_to_info():
    finding = LabelIssues().check(issues(900, accuracy=0.93))[0]
    assert finding.severity == "info" and "only 93% accurate" in finding.message
    assert LabelIssues().check(issues(900, accuracy=0.95))[0].severity == "warning"
    assert LabelIssues().check(issues(900, accuracy=0.95), model_accuracy_trusted_min=0.96)[0].severity == "info"


def test_thresholds():
    assert len(LabelIssues().check(issues(200))) == 1
    assert LabelIssues().check(issues(199)) == []
    assert LabelIssues().check(issues(9, n_checked=100)) == []
    assert len(LabelIssues().check(issues(10, n_checked=100))) == 1
    assert LabelIssues().check(issues(200), flagged_fraction_min=0.05) == []


def test_labels_unrelated_to_inputs_are_reported_as_misalignment():
    finding = LabelIssues().check(issues(5000))[0]
    assert finding.severity == "info" and "out of step with the inputs" in finding.message
    assert LabelIssues().check(issues(2500))[0].severity == "warning"
    assert LabelIssues().check(issues(2501))[0].severity == "info"
