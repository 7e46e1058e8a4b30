from nndoctor.rules.data.stratification_mismatch import StratificationMismatch


def comparison(**overrides):
    base = {"split": "test", "n": 2000, "chi2": 180.0, "dof": 1, "p_value": 2e-41,
            "max_abs_diff": 0.13, "worst_class": "tumour", "reference_share": 0.05,
            "split_share": 0.18, "missing_classes": []}
    base.update(overrides)
    return {"stratification": [base]}


def test_fires_on_large_significant_difference():
    findings = StratificationMismatch().check(comparison())
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "stratification-mismatch" and finding.severity == "warning"
    assert finding.evidence["max_abs_diff_points"] == 13.0
    assert finding.evidence["worst_class"] == "tumour"
    assert "5% of train but 18% of test" in finding.message


def test_fires_on_missing_class():
    missing = [{"class": "rare", "expected_rows": 12.0}]
    findings = StratificationMismatch().check(comparison(max_abs_diff=0.006, missing_classes=missing))
    assert len(findings) == 1 and "'rare' have no rows in test" in findings[0].message


def test_silent_when_not_significant_or_small():
    assert StratificationMismatch().check(comparison(p_value=0.4)) == []
    assert StratificationMismatch().check(comparison(p_value=1e-6, max_abs_diff=0.01)) == []
    tiny_missing = [{"class": "rare", "expected_rows": 1.5}]
    assert StratificationMismatch().check(
        comparison(p_value=1e-4, max_abs_diff=0.004, missing_classes=tiny_missing)) == []


def test_thresholds():
    at_limit = comparison(p_value=1e-3, max_abs_diff=0.05)
    assert StratificationMismatch().check(at_limit) == []
    assert len(StratificationMismatch().check(at_limit, p_value_max=1e-2)) == 1
    assert len(StratificationMismatch().check(comparison(max_abs_diff=0.02))) == 1
    assert StratificationMismatch().check(comparison(max_abs_diff=0.0199)) == []
