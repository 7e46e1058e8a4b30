from nndoctor.rules.evaluation.metric_uncertain import MetricUncertain


def metric(name, value, half, n, proportion=False, method="stratified bootstrap (BCa)"):
    return {"name": name, "value": value, "low": value - half, "high": value + half, "n": n,
            "proportion": proportion, "method": method, "higher_is_better": True}


def test_wide_interval_warns_with_rows_needed():
    m = {"metrics": [{"split": "val", "n": 400, "headline": [
        metric("accuracy", 0.8, 0.039, 400, True, "Wilson"), metric("macro_f1", 0.71, 0.048, 400)]}]}
    found = MetricUncertain().check(m)
    assert len(found) == 1 and found[0].severity == "info"
    wide = {x["name"]: x for x in found[0].evidence["wide_metrics"]}
    assert wide["macro_f1"]["rows_needed"] == 2304  # 400 x (4.8 / 2)²
    assert "~2,304 rows would give ±2 points on macro-F1" in found[0].message
    m["metrics"][0]["headline"].append(metric("auc", 0.7, 0.06, 400))
    assert MetricUncertain().check(m)[0].severity == "warning"


def test_narrow_intervals_and_unbounded_metrics_are_silent():
    m = {"metrics": [{"split": "val", "n": 10000, "headline": [
        metric("accuracy", 0.9, 0.006, 10000, True, "Wilson"), metric("log_loss", 0.3, 0.5, 10000)]}]}
    assert MetricUncertain().check(m) == []


def test_threshold():
    m = {"metrics": [{"split": "val", "n": 900, "headline": [metric("auc", 0.8, 0.025, 900)]}]}
    assert len(MetricUncertain().check(m)) == 1
    assert MetricUncertain().check(m, halfwidth_points_info=2.5) == []
