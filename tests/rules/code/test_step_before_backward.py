from nndoctor.rules.code.step_before_backward import StepBeforeBackward


def order(wrong, iterations=120, cleared=True):
    return {"step_order": {"iterations": iterations, "update_between_forward_and_backward": wrong,
                           "first_step": 0 if wrong else None, "optimizers": ["Adam"],
                           "grad_none_at_first_steps": cleared}}


def test_step_before_backward_every_iteration_is_an_error():
    [finding] = StepBeforeBackward().check(order(120))
    assert finding.rule == "step-before-backward" and finding.severity == "error"
    assert finding.evidence["step_before_backward"] == 120 and finding.evidence["share"] == 1.0
    assert "nothing was updated" in finding.message and "120 of 120" in finding.message


def test_stale_gradient_variant_says_so():
    [finding] = StepBeforeBackward().check(order(50, iterations=50, cleared=False))
    assert "previous iteration's gradient" in finding.message


def test_correct_order_is_silent():
    assert StepBeforeBackward().check(order(0)) == []
    assert StepBeforeBackward().check({"step_order": {"iterations": 0, "update_between_forward_and_backward": 0}}) == []


def test_thresholds():
    assert StepBeforeBackward().check(order(1)) == []  # one iteration
    assert StepBeforeBackward().check(order(2, iterations=4))  # 2 iterations, 50 %
    assert StepBeforeBackward().check(order(2, iterations=5)) == []  # 40 %: a stray call
    assert StepBeforeBackward().check(order(2, iterations=4), min_share=0.6) == []
