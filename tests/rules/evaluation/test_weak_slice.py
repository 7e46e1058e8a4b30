from nndoctor.rules.evaluation.weak_slice import WeakSlice


def slice_row(name, n, inside, elsewhere, p, columns=None):
    return {"slice": name, "columns": columns or [name.split(" ")[0]], "n": n, "metric_in_slice": inside,
            "metric_elsewhere": elsewhere, "drop": elsewhere - inside, "p_value": p}


def measurements(rows, metric="accuracy"):
    return {"slices": [{"split": "val", "metric": metric, "overall": 0.88, "min_rows": 30, "tested": rows}]}


def test_significant_large_drop_fires_and_pair_explained_by_parent_is_dropped():
    rows = [slice_row("site = C", 212, 0.684, 0.891, 1e-9), slice_row("site = A", 400, 0.88, 0.885, 0.4),
            slice_row("site = C & age in [20, 30]", 40, 0.66, 0.89, 1e-4, ["site", "age"])]
    found = WeakSlice().check(measurements(rows))
    assert len(found) == 1 and found[0].where == ["site = C"]
    assert "accuracy 68.4% vs 89.1% elsewhere" in found[0].message and "3 slices tested" in found[0].message


def test_small_drops_and_chance_p_values_are_silent():
    rows = [slice_row("site = B", 5000, 0.86, 0.89, 1e-8)] + [slice_row(f"site = {i}", 50, 0.8, 0.89, 0.3)
                                                          for i in range(20)]
    assert WeakSlice().check(measurements(rows)) == []


def test_thresholds_and_regression():
    rows = [slice_row("site = C", 100, 0.80, 0.88, 0.001)] + [slice_row(f"x = {i}", 50, 0.9, 0.88, 0.9) for i in range(30)]
    assert len(WeakSlice().check(measurements(rows))) == 1  # q = 0.031
    assert WeakSlice().check(measurements(rows), false_discovery_rate=0.02) == []
    assert WeakSlice().check(measurements(rows), min_drop_points=10) == []
    regression = [slice_row("site = C", 100, 1.5, 1.0, 1e-6)]
    assert len(WeakSlice().check(measurements(regression, "mae"))) == 1
    assert WeakSlice().check(measurements(regression, "mae"), min_error_increase=0.6) == []
