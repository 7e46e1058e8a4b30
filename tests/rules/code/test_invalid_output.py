from nndoctor.rules.code.invalid_output import InvalidOutput


def check(**overrides):
    output = {"batch_size": 32, "output_type": "Tensor", "output_shape": [32, 10], "batch_dim_ok": True,
              "non_finite_count": 0, "output_numel": 320, "loss_value": 2.3, "relative_spread": 0.8,
              "relative_spread_after_training": 1.5, "inputs_vary": True}
    thresholds = overrides.pop("thresholds", {})
    output.update(overrides)
    return InvalidOutput().check({"output_check": output}, **thresholds)


def test_positive_non_finite_wrong_batch_and_constant():
    found = check(non_finite_count=5)
    assert [(f.rule, f.severity) for f in found] == [("invalid-output", "error")]
    assert found[0].evidence["non_finite_count"] == 5
    found = check(batch_dim_ok=False, output_shape=[1, 10])
    assert found[0].severity == "error" and found[0].evidence["output_shape"] == [1, 10]
    found = check(relative_spread=0.0, relative_spread_after_training=0.0)
    assert found[0].severity == "warning" and found[0].evidence["relative_spread"] == 0.0
    found = check(loss_value=float("nan"))
    assert found[0].severity == "error" and found[0].evidence["loss_value"] == "nan"


def test_negative_healthy_and_zero_init_head():
    assert check() == []
    assert check(relative_spread=0.0, relative_spread_after_training=0.3) == []  # constant only before training
    assert check(relative_spread=None) == []  # identical inputs: a constant output is expected


def test_threshold_relative_spread():
    assert check(relative_spread=1e-7, relative_spread_after_training=1e-7) != []
    assert check(relative_spread=1e-7, relative_spread_after_training=1e-7,
                 thresholds={"relative_spread_min": 1e-8}) == []
