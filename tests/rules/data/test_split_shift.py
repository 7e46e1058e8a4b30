from nndoctor.rules.data.split_shift import SplitShift


def shift(auc, null_sd=0.005, **extra):
    result = {"split": "test", "auc": auc, "null_sd": null_sd, "n_reference_rows": 10000,
              "n_other_rows": 10000, "cv_folds": 5, "grouped_cv": False, "sample_cap": 20000,
              "top_features": [{"feature": "gain", "auc_drop": 0.4, "ks": 0.8},
                               {"feature": "age", "auc_drop": 0.01, "ks": 0.05}]}
    result.update(extra)
    return {"split_shift": [result]}


def test_fires_with_auc_and_features():
    findings = SplitShift().check(shift(0.93))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "split-shift" and finding.severity == "warning"
    assert finding.evidence["auc"] == 0.93
    assert finding.evidence["top_features"][0]["feature"] == "gain"
    assert finding.where == ["gain", "age"]
    assert "ROC AUC 0.93" in finding.message and "limit 0.60" in finding.message


def test_random_split_auc_is_silent():
    assert SplitShift().check(shift(0.51)) == []


def test_small_sample_needs_a_wider_margin():
    # 0.65 on 200 rows: the chance band (4 * 0.041) is wider than the excess over 0.5
    assert SplitShift().check(shift(0.65, null_sd=0.041, n_reference_rows=100, n_other_rows=100)) == []
    assert len(SplitShift().check(shift(0.65, null_sd=0.01))) == 1


def test_threshold():
    assert SplitShift().check(shift(0.5999)) == []
    assert len(SplitShift().check(shift(0.60))) == 1
    assert SplitShift().check(shift(0.65), auc_min=0.7) == []


def test_hint_to_pass_groups_only_when_cv_was_not_grouped():
    assert "pass group=" in SplitShift().check(shift(0.93))[0].message
    assert "pass group=" not in SplitShift().check(shift(0.75))[0].message
    assert "pass group=" not in SplitShift().check(shift(0.93, grouped_cv=True))[0].message
    assert "pass group=" not in SplitShift().check(shift(0.93, groups_given=True))[0].message
