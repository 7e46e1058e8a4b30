from nndoctor.rules.evaluation.confused_classes import ConfusedClasses


def pair(true, predicted, count, support, errors, reverse=0, reverse_support=300):
    return {"true": true, "predicted": predicted, "count": count, "true_support": support, "true_errors": errors,
            "reverse_count": reverse, "reverse_support": reverse_support, "example_ids": [12, 57, 311]}


def measurements(pairs, classes=("wolf", "husky", "cat", "dog")):
    return {"confusion": [{"split": "val", "classes": list(classes), "pairs": pairs}]}


def test_concentrated_two_way_confusion_fires_with_examples():
    found = ConfusedClasses().check(measurements([pair("wolf", "husky", 69, 300, 80, reverse=46)]))
    assert len(found) == 1 and "both ways" in found[0].message and "ids 12, 57, 311" in found[0].message
    assert found[0].where == ["wolf->husky"]


def test_errors_spread_evenly_and_binary_tasks_are_silent():
    # 40 of 120 errors go to each of the 3 other classes: no pattern
    assert ConfusedClasses().check(measurements([pair("wolf", "husky", 40, 300, 120)])) == []
    assert ConfusedClasses().check(measurements([pair("a", "b", 90, 300, 90)], classes=("a", "b"))) == []


def test_thresholds():
    m = measurements([pair("wolf", "husky", 60, 300, 70)])
    assert len(ConfusedClasses().check(m)) == 1
    assert ConfusedClasses().check(m, share_min=0.16) == []
    assert ConfusedClasses().check(m, count_min=61) == []
