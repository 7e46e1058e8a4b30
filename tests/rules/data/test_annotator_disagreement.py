from nndoctor.rules.data.annotator_disagreement import AnnotatorDisagreement


def agreement(alpha):
    return {"annotator_agreement": {
        "annotators": ["ann1", "ann2", "ann3"], "n_annotators": 3, "n_items": 1200,
        "n_items_fully_rated": 1200, "krippendorff_alpha": alpha, "fleiss_kappa": alpha - 0.001,
        "cohen_kappa": None, "mean_pairwise_cohen_kappa": alpha, "mean_pairwise_agreement": 0.71,
        "majority_vote_agreement": 0.8, "label_agreement_with_annotators": None,
        "least_agreeing_annotator": "ann3", "pairwise": []}}


def test_fires_on_low_alpha_with_ceiling():
    findings = AnnotatorDisagreement().check(agreement(0.52))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "annotator-disagreement" and finding.severity == "warning"
    assert finding.evidence["krippendorff_alpha"] == 0.52
    assert finding.evidence["mean_pairwise_agreement"] == 0.71
    assert "71%" in finding.message and "0.52" in finding.message


def test_reliable_annotations_are_silent():
    assert AnnotatorDisagreement().check(agreement(0.9)) == []


def test_thresholds():
    assert AnnotatorDisagreement().check(agreement(0.80)) == []
    assert AnnotatorDisagreement().check(agreement(0.7999))[0].severity == "info"
    assert AnnotatorDisagreement().check(agreement(0.667))[0].severity == "info"
    assert AnnotatorDisagreement().check(agreement(0.6669))[0].severity == "warning"
    assert AnnotatorDisagreement().check(agreement(0.75), alpha_info_below=0.7) == []
