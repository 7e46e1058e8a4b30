from nndoctor.core.stats import wilson_interval
from nndoctor.rules.evaluation.class_failure import ClassFailure


def row(name, hits, support, predicted=None):
    predicted = predicted or support
    low, high = wilson_interval(hits, support)
    p_low, p_high = wilson_interval(hits, predicted)
    return {"class": name, "support": support, "predicted": predicted, "recall": hits / support,
            "recall_low": float(low), "recall_high": float(high), "precision": hits / predicted,
            "precision_low": float(p_low), "precision_high": float(p_high), "most_confused_with": "normal"}


def measurements(rows):
    return {"per_class": [{"split": "val", "rows": rows}]}


def test_far_worse_class_fires():
    found = ClassFailure().check(measurements([row("normal", 900, 1000), row("flu", 880, 1000),
                                               row("benign", 100, 250)]))
    assert len(found) == 1 and found[0].where == ["benign"]
    assert "class 'benign' has recall 40%" in found[0].message and "'normal'" in found[0].message


def test_similar_classes_and_tiny_classes_are_silent():
    assert ClassFailure().check(measurements([row("a", 900, 1000), row("b", 850, 1000), row("c", 820, 1000)])) == []
    assert ClassFailure().check(measurements([row("a", 900, 1000), row("rare", 5, 15)])) == []


def test_gap_threshold():
    rows = [row("a", 900, 1000), row("b", 700, 1000)]  # b's recall interval top ≈ 72.8% vs 90%
    assert len(ClassFailure().check(measurements(rows))) == 1
    assert ClassFailure().check(measurements(rows), gap_points=18) == []
