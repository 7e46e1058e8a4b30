import math

from nndoctor.rules.data.class_imbalance import ClassImbalance


def balance(counts):
    return {"class_balance": {"split": "train", "label": "y", "counts": counts, "n": sum(counts.values())}}


def test_fires_with_weights_and_log_prior_numbers():
    findings = ClassImbalance().check(balance({"healthy": 4750, "tumour": 250}))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "class-imbalance" and finding.severity == "warning"
    assert finding.evidence["ratio"] == 19.0
    assert finding.evidence["majority_class"] == "healthy"
    assert finding.evidence["minority_class"] == "tumour"
    assert finding.evidence["majority_baseline_accuracy"] == 0.95
    # balanced weights n / (k * n_c) and log priors log(n_c / n)
    assert finding.evidence["class_weights"] == {"healthy": round(5000 / (2 * 4750), 4), "tumour": 10.0}
    assert math.isclose(finding.evidence["log_prior_bias"]["tumour"], math.log(0.05), abs_tol=1e-4)
    text = " ".join(finding.fixes)
    assert "nn.CrossEntropyLoss(weight=torch.tensor([0.5263, 10]))" in text
    assert "pos_weight=torch.tensor(19))" in text
    assert f"{math.log(250 / 4750):.4g}" in text
    assert "model.head.bias.data = torch.tensor([-0.05129, -2.996])" in text
    assert "WeightedRandomSampler" in text and "focal" in text
    assert "19.0:1" in finding.message and "10:1" in finding.message


def test_balanced_and_mild_imbalance_are_silent():
    assert ClassImbalance().check(balance({"a": 500, "b": 480, "c": 510})) == []
    assert ClassImbalance().check(balance({"a": 800, "b": 200})) == []
    assert ClassImbalance().check(balance({"a": 800})) == []


def test_threshold_is_exclusive_and_overridable():
    at_limit = balance({"a": 1000, "b": 100})
    assert ClassImbalance().check(at_limit) == []
    assert len(ClassImbalance().check(balance({"a": 1001, "b": 100}))) == 1
    assert len(ClassImbalance().check(at_limit, majority_to_minority_ratio_high=5.0)) == 1


def test_many_classes_summarise_the_vectors():
    counts = {f"c{i:02d}": 1000 for i in range(30)}
    counts["c99"] = 20
    finding = ClassImbalance().check(balance(counts))[0]
    assert "w = n / (k * counts)" in finding.fixes[0]
    assert finding.evidence["n_classes"] == 31
