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


def live(name, got_grad=True, zero=False, zero_checks=0, nonzero_checks=5):
    return dict(param(name, got_grad=got_grad, zero=zero), zero_checks=zero_checks, nonzero_checks=nonzero_checks)


def test_live_one_early_zero_gradient_is_not_evidence():
    # per-sample SGD: one sample with a dead ReLU gives an exactly zero gradient once
    once = live("fc1.weight", zero=True, zero_checks=1, nonzero_checks=0)
    assert NoGradient().check({"parameter_status": [live("a"), once], "steps_observed": 1}) == []
    persistent = live("fc1.weight", zero=True, zero_checks=3, nonzero_checks=0)
    [finding] = NoGradient().check({"parameter_status": [live("a"), persistent], "steps_observed": 30})
    assert finding.evidence["zero_gradient"] == ["fc1.weight"]
    assert NoGradient().check({"parameter_status": [live("a"), persistent]}, min_zero_checks=4) == []
    assert NoGradient.retractable


def test_live_never_fires_once_a_nonzero_gradient_was_seen():
    row = live("w", zero=True, zero_checks=40, nonzero_checks=1)
    assert NoGradient().check({"parameter_status": [row], "steps_observed": 100}) == []


def test_live_missing_gradient_needs_two_steps():
    row = live("aux.weight", got_grad=False, nonzero_checks=0)
    assert NoGradient().check({"parameter_status": [live("a"), row], "steps_observed": 1}) == []
    assert NoGradient().check({"parameter_status": [live("a"), row], "steps_observed": 2})
