from nndoctor.rules.code.no_gradient import NoGradient


def param(name, got_grad=True, zero=False, trainable=True, numel=100):
    return {"name": name, "shape": [numel], "numel": numel, "trainable": trainable, "in_optimizer": True,
            "got_grad": got_grad, "grad_all_zero": zero, "changed": True}


def test_positive_names_parameters_without_gradient():
    status = [param("body.weight"), param("aux.weight", got_grad=False), param("aux.bias", zero=True, numel=2)]
    found = NoGradient().check({"parameter_status": status})
    assert found[0].rule == "no-gradient" and found[0].severity == "warning"
    assert found[0].evidence["no_gradient"] == ["aux.weight"] and found[0].evidence["zero_gradient"] == ["aux.bias"]


def test_positive_everything_cut_off_is_an_error():
    status = [param("a", got_grad=False), param("b", got_grad=False)]
    found = NoGradient().check({"parameter_status": status, "loss_detached": True})
    assert found[0].severity == "error" and found[0].evidence["loss_detached"] is True


def test_negative_frozen_parameters_need_no_gradient():
    status = [param("a"), param("frozen", got_grad=False, trainable=False)]
    assert NoGradient().check({"parameter_status": status}) == []


def test_threshold_share_for_error():
    status = [param("a", numel=90), param("b", got_grad=False, numel=10)]
    assert NoGradient().check({"parameter_status": status})[0].severity == "warning"
    found = NoGradient().check({"parameter_status": status}, affected_share_for_error=0.1)
    assert found[0].severity == "error"
