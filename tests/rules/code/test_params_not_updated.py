from nndoctor.rules.code.params_not_updated import ParamsNotUpdated


def param(name, changed=True, in_optimizer=True, numel=100, zero=False):
    return {"name": name, "shape": [numel], "numel": numel, "trainable": True, "in_optimizer": in_optimizer,
            "got_grad": True, "grad_all_zero": zero, "changed": changed}


def test_positive_left_out_of_optimizer():
    status = [param("body.weight"), param("fc.weight", changed=False, in_optimizer=False)]
    found = ParamsNotUpdated().check({"parameter_status": status, "steps_observed": 1})
    assert found[0].rule == "params-not-updated" and found[0].severity == "error"
    assert found[0].evidence["not_in_optimizer"] == ["fc.weight"]
    assert "not in the optimizer" in found[0].message


def test_positive_in_optimizer_but_unchanged_points_at_lr():
    found = ParamsNotUpdated().check({"parameter_status": [param("w", changed=False)]})
    assert "lr" in found[0].message and found[0].evidence["not_in_optimizer"] == []


def test_negative_updated_zero_gradient_or_no_update_observed():
    status = [param("a"), param("b", changed=None), param("c", changed=False, zero=True)]
    assert ParamsNotUpdated().check({"parameter_status": status}) == []


def test_threshold_values():
    status = [param("tiny", changed=False, numel=3)]
    assert ParamsNotUpdated().check({"parameter_status": status}) != []
    assert ParamsNotUpdated().check({"parameter_status": status}, unchanged_values_min=4) == []


def test_negligible_gradient_in_optimizer_is_not_a_missed_update():
    bias_before_batchnorm = dict(param("conv.bias", changed=False), grad_abs_max=1e-9, value_abs_max=0.2)
    assert ParamsNotUpdated().check({"parameter_status": [bias_before_batchnorm]}) == []
    assert ParamsNotUpdated().check({"parameter_status": [bias_before_batchnorm]}, gradient_to_value_min=1e-9) != []
    outside = dict(bias_before_batchnorm, in_optimizer=False)
    assert ParamsNotUpdated().check({"parameter_status": [outside]}) != []
