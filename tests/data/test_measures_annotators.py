import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from nndoctor.core.rule import Measurements
from nndoctor.data.load import load_audit_data
from nndoctor.data.measures import annotators
from nndoctor.data.measures.annotators import agreement_summary, fleiss_kappa, krippendorff_alpha_nominal
from nndoctor.data.view import AuditOptions
from nndoctor.rules.data.annotator_disagreement import AnnotatorDisagreement


def test_krippendorff_alpha_matches_the_published_worked_example():
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", nominal example:
    # 4 observers, 12 units, values 1-5, '.' missing -> alpha = 0.743.
    missing = None
    observers = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, missing, missing, missing],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, missing, 3],
        [missing, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, missing],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, missing],
    ]
    codes = np.array([[-1 if v is None else v - 1 for v in row] for row in observers]).T
    assert krippendorff_alpha_nominal(codes) == pytest.approx(0.743, abs=5e-4)


def test_fleiss_kappa_matches_the_textbook_example_by_hand():
    # Fleiss' kappa example (10 subjects, 14 raters, 5 categories), worked by hand:
    # P_bar = 0.378, P_e = 0.2128 (category shares .143 .200 .279 .171 .207) -> kappa = 0.210.
    table = np.array([[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
                      [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]])
    n = 14
    p_bar = np.mean([(row ** 2).sum() - n for row in table]) / (n * (n - 1))
    shares = table.sum(axis=0) / table.sum()
    assert p_bar == pytest.approx(0.378, abs=1e-3)
    assert (shares ** 2).sum() == pytest.approx(0.2128, abs=1e-3)
    assert fleiss_kappa(table) == pytest.approx(0.210, abs=1e-3)


def test_cohen_kappa_for_two_annotators_matches_sklearn():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 300)
    b = np.where(rng.random(300) < 0.7, a, rng.integers(0, 3, 300))
    summary = agreement_summary(np.column_stack([a, b]), ["ann1", "ann2"], 3)
    assert summary["cohen_kappa"] == pytest.approx(cohen_kappa_score(a, b), abs=1e-4)
    assert summary["mean_pairwise_agreement"] == pytest.approx((a == b).mean(), abs=1e-4)
    # with complete data and two raters, alpha is kappa with a small-sample correction
    assert summary["krippendorff_alpha"] == pytest.approx(summary["fleiss_kappa"], abs=0.01)


def annotated(n, agree_probability, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.choice(["benign", "malignant", "unclear"], n)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "y": truth})
    for name in ("ann1", "ann2", "ann3"):
        noisy = rng.choice(["benign", "malignant", "unclear"], n)
        frame[name] = np.where(rng.random(n) < agree_probability, truth, noisy)
    return frame


def measured(frame):
    data = load_audit_data({"train": frame.iloc[:-200], "test": frame.iloc[-200:]}, label="y",
                           annotators=["ann1", "ann2", "ann3"])
    m = Measurements()
    annotators.measure(data, m, AuditOptions())
    return m


def test_disagreeing_annotators_fire_with_the_ceiling():
    m = measured(annotated(1000, agree_probability=0.55))
    finding = AnnotatorDisagreement().check(m)[0]
    assert finding.severity == "warning"
    assert finding.evidence["krippendorff_alpha"] < 0.5
    ceiling = finding.evidence["mean_pairwise_agreement"]
    assert 0.35 < ceiling < 0.6 and f"{ceiling:.0%}" in finding.message
    assert finding.evidence["label_agreement_with_annotators"] > ceiling


def test_agreeing_annotators_are_silent():
    m = measured(annotated(1000, agree_probability=0.97))
    assert m["annotator_agreement"]["krippendorff_alpha"] > 0.9
    assert AnnotatorDisagreement().check(m) == []


def test_integer_and_float_labels_count_as_the_same_label():
    frame = pd.DataFrame({"x": np.arange(6.0), "y": [0, 1, 0, 1, 0, 1],
                          "ann1": [0, 1, 0, 1, 0, 1], "ann2": [0.0, 1.0, 0.0, 1.0, 0.0, np.nan]})
    data = load_audit_data({"train": frame}, label="y", annotators=["ann1", "ann2"])
    m = Measurements()
    annotators.measure(data, m, AuditOptions())
    assert m["annotator_agreement"]["krippendorff_alpha"] == pytest.approx(1.0)
    assert m["annotator_agreement"]["n_items"] == 5


def test_fewer_than_two_annotators_is_skipped():
    data = load_audit_data({"train": annotated(50, 0.9)}, label="y", annotators=["ann1"])
    m = Measurements()
    annotators.measure(data, m, AuditOptions())
    assert "fewer than two annotator columns" in m.unavailable["annotator_agreement"]


def test_degenerate_annotations_do_not_crash():
    empty = agreement_summary(np.full((5, 3), -1), ["a", "b", "c"], 0)
    assert empty["krippendorff_alpha"] is None and empty["majority_vote_agreement"] is None
    assert AnnotatorDisagreement().check({"annotator_agreement": empty}) == []
    sparse = agreement_summary(np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]]), ["a", "b", "c"], 2)
    assert sparse["mean_pairwise_agreement"] is None and sparse["krippendorff_alpha"] is not None
    finding = AnnotatorDisagreement().check({"annotator_agreement": sparse})[0]
    assert "Krippendorff's alpha" in finding.message
