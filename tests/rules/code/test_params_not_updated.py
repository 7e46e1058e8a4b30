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


def live(name, checked=5, **fields):
    """A live-run row: counts of checked updates and, for an unchanged parameter, magnitudes."""
    row = dict(param(name, changed=False if checked else None), checked_updates=checked, zero_lr_updates=0,
               grad_none_at_step=0, zero_checks=0, nonzero_checks=checked, grad_abs_max=0.5,
               grad_abs_max_after_backward=0.5, value_abs_max=0.3, lr=1e-3)
    row.update(fields)
    return row


def test_live_needs_two_checked_updates():
    assert ParamsNotUpdated().check({"parameter_status": [live("w", checked=1)]}) == []
    [finding] = ParamsNotUpdated().check({"parameter_status": [live("w", checked=2)]})
    assert finding.evidence["cause"] == "generic" and finding.evidence["checked_updates"] == 2
    assert ParamsNotUpdated().check({"parameter_status": [live("w", checked=2)]}, min_checked_updates=3) == []
    assert ParamsNotUpdated.retractable


def test_live_cause_not_in_optimizer_needs_no_second_check():
    [finding] = ParamsNotUpdated().check({"parameter_status": [live("fc.weight", checked=1, in_optimizer=False)]})
    assert finding.evidence["cause"] == "not_in_optimizer" and "not in the optimizer" in finding.message


def test_live_cause_gradient_cleared_before_the_step():
    [finding] = ParamsNotUpdated().check({"parameter_status": [live("w", grad_none_at_step=4)]})
    assert finding.evidence["cause"] == "grad_cleared" and finding.severity == "error"
    assert "cleared between backward and step" in finding.message and "before the backward" in finding.message


def test_live_cause_clipping_below_float32_resolution():
    clipped = live("w", grad_abs_max=1e-9, grad_abs_max_after_backward=0.4, value_abs_max=0.3, lr=0.1)
    [finding] = ParamsNotUpdated().check({"parameter_status": [clipped]})
    assert finding.evidence["cause"] == "clipped"
    assert "below float32 resolution" in finding.message and "clip_grad_norm_" in finding.message
    # the same update too small without a larger gradient after backward: just below resolution
    tiny_lr = live("w", grad_abs_max=0.01, grad_abs_max_after_backward=0.01, value_abs_max=0.3, lr=1e-7)
    [finding] = ParamsNotUpdated().check({"parameter_status": [tiny_lr]})
    assert finding.evidence["cause"] == "below_resolution" and "clip" not in finding.message


def test_clipping_threshold_and_resolution_boundary():
    # |lr·g| = 2.9e-8 against a float32 spacing of 2.98e-8 at 0.3: below; 3.1e-8: not below
    below = live("w", grad_abs_max=2.9e-8, grad_abs_max_after_backward=2.9e-2, value_abs_max=0.3, lr=1.0)
    assert ParamsNotUpdated().check({"parameter_status": [below]})[0].evidence["cause"] == "clipped"
    # shrunk exactly 1e6×: clipping at a threshold of 1e6×, not above it
    assert ParamsNotUpdated().check({"parameter_status": [below]}, clipping_shrink_min=1e6)[0].evidence["cause"] == "clipped"
    assert ParamsNotUpdated().check({"parameter_status": [below]}, clipping_shrink_min=1.1e6)[0].evidence["cause"] == "below_resolution"
    above = dict(below, grad_abs_max=3.1e-8)
    assert ParamsNotUpdated().check({"parameter_status": [above]})[0].evidence["cause"] == "generic"


def test_live_zero_lr_is_a_warning_and_a_warmup_step_is_not():
    frozen = live("backbone.weight", checked=0, zero_lr_updates=50)
    [finding] = ParamsNotUpdated().check({"parameter_status": [frozen]})
    assert finding.severity == "warning" and "lr was exactly 0" in finding.message
    warmup = live("w", checked=0, zero_lr_updates=1)
    assert ParamsNotUpdated().check({"parameter_status": [warmup]}) == []
    updated_after_warmup = dict(live("w", checked=3, zero_lr_updates=5), changed=True)
    assert ParamsNotUpdated().check({"parameter_status": [updated_after_warmup]}) == []


def test_a_functional_update_whose_result_is_dropped_says_to_keep_it():
    # JAX: updates computed at every sampled call, the parameters never changed, the
    # optimizer's step count never advanced (`update_model(state, grads)` without `state =`).
    row = {"name": "Dense_0/kernel", "shape": [64, 10], "numel": 640, "trainable": True, "in_optimizer": None,
           "got_grad": True, "grad_all_zero": False, "changed": False, "checked_updates": 9,
           "update_discarded": True, "optimizer_step_stuck": True}
    [finding] = ParamsNotUpdated().check({"parameter_status": [row]})
    assert finding.evidence["cause"] == "update_discarded" and finding.severity == "error"
    assert "10 sampled calls" in finding.message and "step count never advanced" in finding.message
    assert any("state = state.apply_gradients" in fix for fix in finding.fixes)
    assert "result is dropped" in finding.causes[0]
    # Too few comparisons: nothing said.
    assert ParamsNotUpdated().check({"parameter_status": [dict(row, checked_updates=1)]}) == []
