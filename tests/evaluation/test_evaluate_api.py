"""nndoctor.evaluate end to end: healthy predictions stay quiet, broken ones are caught."""
import json

import numpy as np
import pytest

import nndoctor
from nndoctor.core.errors import UsageError
from nndoctor.core.report import Report

from evaluation_data import classifier_outputs, metadata


def warnings_and_errors(report):
    return [f for f in report.findings if f.severity in ("error", "warning")]


def test_healthy_multiclass_with_slices_and_test_split_has_no_warnings(healthy):
    y, probabilities, meta = healthy
    y_test, p_test = classifier_outputs(2000, seed=7)
    report = nndoctor.evaluate(y, probabilities.argmax(1), probabilities=probabilities, slices=meta,
                               test=dict(y_true=y_test, predictions=p_test.argmax(1), probabilities=p_test,
                                         slices=metadata(2000, seed=7)))
    assert warnings_and_errors(report) == [], [f.message for f in warnings_and_errors(report)]
    assert {"worse-than-baseline", "weak-slice", "val-test-disagree", "poorly-calibrated"} <= set(report.checks_run)
    headline = {m["name"]: m for m in report.context["evaluation"]["splits"]["val"]["headline"]}
    assert headline["accuracy"]["low"] < headline["accuracy"]["value"] < headline["accuracy"]["high"]
    json.loads(report.to_json())  # strict JSON


@pytest.mark.parametrize("seed", range(5))
def test_healthy_binary_regression_and_multilabel_have_no_warnings(seed):
    rng = np.random.default_rng(seed)
    y, probabilities = classifier_outputs(1500, k=2, seed=seed)
    assert warnings_and_errors(nndoctor.evaluate(y, probabilities[:, 1] >= 0.5, probabilities=probabilities[:, 1],
                                                 slices=metadata(1500, seed))) == []
    x = rng.normal(size=1500)
    target = x + 0.5 * rng.normal(size=1500)
    assert warnings_and_errors(nndoctor.evaluate(target, x, slices=metadata(1500, seed))) == []
    labels = (rng.random((1500, 3)) < 0.4).astype(int)
    scores = np.clip(labels * 0.8 + rng.normal(0.1, 0.15, (1500, 3)), 0, 1)
    report = nndoctor.evaluate(labels, (scores >= 0.5).astype(int), slices=metadata(1500, seed))
    assert report.context["evaluation"]["task"] == "multilabel"
    assert warnings_and_errors(report) == []


def test_majority_class_model_is_flagged_and_healthy_model_is_not(healthy):
    rng = np.random.default_rng(3)
    y = rng.choice(3, 2000, p=[0.7, 0.2, 0.1])
    prior = np.tile([0.7, 0.2, 0.1], (2000, 1))
    report = nndoctor.evaluate(y, np.zeros(2000, dtype=int), probabilities=prior)
    rules = {f.rule: f for f in report.findings}
    assert rules["worse-than-baseline"].severity == "error"
    assert rules["predictions-degenerate"].severity == "error"
    assert "class-failure" not in rules and "confused-classes" not in rules  # said once, by degenerate
    assert report.exit_code() == 1
    y_ok, probabilities, _ = healthy
    healthy_report = nndoctor.evaluate(y_ok, probabilities.argmax(1), probabilities=probabilities)
    assert not {"worse-than-baseline", "predictions-degenerate"} & healthy_report.rules_found()
    assert healthy_report.exit_code() == 0


def test_linear_baseline_as_good_as_the_model_warns():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1500, 5))
    y = (features[:, 0] + 0.3 * rng.normal(size=1500) > 0).astype(int)
    linear_like = (features[:, 0] > 0).astype(int)
    report = nndoctor.evaluate(y, linear_like, features=features)
    found = [f for f in report.findings if f.rule == "worse-than-baseline"]
    assert found and found[0].severity == "warning" and "logistic regression" in found[0].message
    train = rng.normal(size=(3000, 5))
    train_y = (train[:, 0] + 0.3 * rng.normal(size=3000) > 0).astype(int)
    report = nndoctor.evaluate(y, y, features={"train": train, "eval": features}, train_labels=train_y)
    assert "worse-than-baseline" not in report.rules_found()


def test_probabilities_only_logits_and_string_labels():
    y, probabilities = classifier_outputs(800, k=3)
    names = np.array(["cat", "dog", "eel"])
    report = nndoctor.evaluate(names[y], np.log(probabilities) + 5.0, classes=["cat", "dog", "eel"])
    headline = {m["name"]: m["value"] for m in report.context["evaluation"]["splits"]["val"]["headline"]}
    assert headline["accuracy"] == pytest.approx(np.mean(probabilities.argmax(1) == y))
    assert "auc_macro_ovr" in headline and "log_loss" in headline


def test_groups_widen_the_accuracy_interval():
    rng = np.random.default_rng(0)
    patients = np.repeat(np.arange(100), 20)
    per_patient = rng.random(100) < 0.8  # whole patients right or wrong: strong clustering
    correct = per_patient[patients]
    y = rng.integers(0, 2, 2000)
    predicted = np.where(correct, y, 1 - y)
    plain = nndoctor.evaluate(y, predicted).context["evaluation"]["splits"]["val"]["headline"][0]
    grouped = nndoctor.evaluate(y, predicted, groups=patients).context["evaluation"]["splits"]["val"]["headline"][0]
    assert grouped["method"].startswith("cluster bootstrap")
    assert grouped["high"] - grouped["low"] > 3 * (plain["high"] - plain["low"])


def test_report_survives_json_round_trip_with_html(healthy, tmp_path):
    y, probabilities, meta = healthy
    report = nndoctor.evaluate(y, probabilities.argmax(1), probabilities=probabilities, slices=meta)
    again = Report.from_json(report.to_json())
    assert again.context["evaluation"]["splits"]["val"]["n"] == 3000
    from nndoctor.report.html import render_html

    page = render_html(again)
    assert "<svg" in page and "Reliability diagram" in page and "Confusion matrix" in page
    assert "<script" not in page and "<link" not in page and 'src="http' not in page  # no CDN


@pytest.mark.parametrize("call, message", [
    (lambda: nndoctor.evaluate([0, 1, 1], [0, 1]), "2 rows but y_true has 3"),
    (lambda: nndoctor.evaluate([], []), "empty"),
    (lambda: nndoctor.evaluate([1, 1, 1], [1, 1, 1]), "only one class"),
    (lambda: nndoctor.evaluate([0.5, 1.5, np.nan], [0.1, 0.2, 0.3]), "NaN"),
    (lambda: nndoctor.evaluate([0, 1, 2], [0, 1, 2], task="ranking"), "task must be one of"),
    (lambda: nndoctor.evaluate(["a", "b"], np.full((2, 3), 1 / 3)), "pass classes="),
    (lambda: nndoctor.evaluate([0, 1], [0, 1], test={"y": [0]}), "unknown key"),
])
def test_bad_input_is_one_clear_usage_error(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_ceilings_from_replicates_and_annotators():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=3000)
    replicates = signal[:, None] + rng.normal(scale=0.42, size=(3000, 2))  # replicate r ≈ 0.85
    target = replicates[:, 0]
    near = nndoctor.evaluate(target, signal + rng.normal(scale=0.42, size=3000), replicates=replicates)
    assert "near-ceiling" in near.rules_found() and "above-ceiling" not in near.rules_found()
    leaked = nndoctor.evaluate(target, target + rng.normal(scale=0.05, size=3000), replicates=replicates)
    assert "above-ceiling" in leaked.rules_found()
    weak = nndoctor.evaluate(target, 0.3 * signal + rng.normal(size=3000), replicates=replicates)
    assert not {"near-ceiling", "above-ceiling"} & weak.rules_found()
    truth = rng.integers(0, 3, 3000)
    annotators = np.column_stack([np.where(rng.random(3000) < 0.85, truth, rng.integers(0, 3, 3000))
                                  for _ in range(3)])
    labels = annotators[:, 0]
    report = nndoctor.evaluate(labels, truth, annotators=annotators)
    ceiling = report.context["evaluation"]["ceiling"][0]
    assert ceiling["source"] == "annotators" and 0.85 < ceiling["ceiling"] < 0.95
    assert "near-ceiling" in report.rules_found()


def test_infinite_given_losses_survive_json_and_html():
    y, probabilities = classifier_outputs(500, k=3)
    losses = -np.log(probabilities[np.arange(500), y])
    losses[7] = np.inf
    report = nndoctor.evaluate(y, probabilities.argmax(1), probabilities=probabilities, losses=losses)
    top = next(f for f in report.findings if f.rule == "top-loss-samples")
    assert top.where[0] == 7
    from nndoctor.report.html import render_html

    assert ">inf<" in render_html(Report.from_json(report.to_json()))
