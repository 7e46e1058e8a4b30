from nndoctor.rules.dynamics.non_finite import NonFinite

CLEAN = {"found": False, "loss_steps_non_finite": 0, "eval_losses_non_finite": 0,
         "grad_steps_non_finite": 0, "first_grad_step": None}


def test_activation_origin_names_the_producing_module():
    info = dict(CLEAN, found=True, step=12, trigger="loss", origin="activation", module="encoder.scale",
                module_type="LogScale", detail="encoder.scale (LogScale) received finite inputs and returned NaN/Inf",
                loss_steps_non_finite=1)
    [finding] = NonFinite().check({"non_finite": info})
    assert finding.rule == "non-finite" and finding.severity == "error"
    assert finding.step == 12 and finding.where == "encoder.scale"
    assert finding.evidence["origin"] == "activation"
    assert "encoder.scale" in finding.message
    assert any("clamp" in fix for fix in finding.fixes)


def test_each_origin_has_its_own_causes():
    for origin in ("input", "parameter", "gradient", "loss", "eval"):
        info = dict(CLEAN, found=True, step=3, origin=origin, module=None, detail="x")
        [finding] = NonFinite().check({"non_finite": info})
        assert finding.evidence["origin"] == origin and finding.causes and finding.fixes


def test_clean_run_has_no_finding():
    assert NonFinite().check({"non_finite": CLEAN, "grad_norm_global": {"count": 50}}) == []


def test_skipped_updates_threshold():
    # A loss scaler skipping 1 sampled update in 50 is normal; skipping half of them is not.
    few = dict(CLEAN, grad_steps_non_finite=1, first_grad_step=30)
    assert NonFinite().check({"non_finite": few, "grad_norm_global": {"count": 49}}) == []
    half = dict(CLEAN, grad_steps_non_finite=25, first_grad_step=0)
    [finding] = NonFinite().check({"non_finite": half, "grad_norm_global": {"count": 25}})
    assert finding.evidence["share"] == 0.5 and finding.step == 0
    assert NonFinite().check({"non_finite": half, "grad_norm_global": {"count": 25}},
                             skipped_update_share=0.6) == []


def _losses(values):
    return {"count": len(values), "head": [[i, v] for i, v in enumerate(values)], "recent": [[i, v] for i, v in enumerate(values)]}


def test_a_loss_that_blew_up_before_the_nan_is_told_as_divergence_not_a_bad_loss_function():
    # lr far too high, seen only through the loss (no sampled gradient before it went bad).
    info = dict(CLEAN, found=True, step=6, trigger="loss", origin="loss", module=None, detail="x", loss_steps_non_finite=3)
    [finding] = NonFinite().check({"non_finite": info, "loss_series": _losses([2.0, 1.9, 200.0, 1e5, 3e9, 1e20])})
    assert "diverged first" in finding.message and "1.9 at step 1" in finding.message
    assert "100×" in finding.message and "learning rate" in finding.causes[0]
    # A loss that was steady until one step produced NaN (log of 0): the loss computation.
    [steady] = NonFinite().check({"non_finite": info, "loss_series": _losses([2.0, 1.9, 1.8, 1.7, 1.75, 1.6])})
    assert "loss computation produced NaN" in steady.message and "log" in steady.causes[0]
    # Growth below the threshold, or an origin found elsewhere, keeps its own text.
    [small] = NonFinite().check({"non_finite": info, "loss_series": _losses([2.0, 1.9, 3.0, 9.0, 20.0, 50.0])})
    assert "diverged first" not in small.message
    data = dict(info, origin="input")
    [batch] = NonFinite().check({"non_finite": data, "loss_series": _losses([2.0, 1e9, 1e20])})
    assert "input batch" in batch.message
