from nndoctor.rules.code.accumulation_not_averaged import AccumulationNotAveraged


def accumulation(unaveraged=50, averaged=0, k=4, adaptive=False, first=1.0, at_step=3.9, **extra):
    return {"accumulation": {"steps": 50, "steps_with_several_backwards": 50, "backwards_per_step": k,
                             "unaveraged_steps": unaveraged, "averaged_steps": averaged, "first_step": 3,
                             "optimizer": "Adam" if adaptive else "SGD", "adaptive": adaptive,
                             "grad_norm_first_backward": first, "grad_norm_at_step": at_step, **extra}}


def test_sgd_summing_micro_batches_is_a_warning_with_k_and_ratio():
    [finding] = AccumulationNotAveraged().check(accumulation())
    assert finding.rule == "accumulation-not-averaged" and finding.severity == "warning"
    assert finding.evidence["backwards_per_step"] == 4 and abs(finding.evidence["gradient_ratio"] - 3.9) < 1e-9
    assert "3.9×" in finding.message and "about 4×" in finding.message and finding.step == 3


def test_adam_is_a_note_that_says_it_is_nearly_invariant():
    [finding] = AccumulationNotAveraged().check(accumulation(adaptive=True))
    assert finding.severity == "info" and "nearly invariant" in finding.message


def test_averaged_single_backward_or_different_losses_are_silent():
    assert AccumulationNotAveraged().check(accumulation(unaveraged=0, averaged=50)) == []
    assert AccumulationNotAveraged().check(accumulation(k=1)) == []
    assert AccumulationNotAveraged().check(accumulation(same_loss=False)) == []
    assert AccumulationNotAveraged().check(accumulation(at_step=1.05)) == []  # gradients cancel: no larger step


def test_thresholds():
    assert AccumulationNotAveraged().check(accumulation(unaveraged=2)) == []
    assert AccumulationNotAveraged().check(accumulation(unaveraged=3))
    assert AccumulationNotAveraged().check(accumulation(at_step=1.2))
    assert AccumulationNotAveraged().check(accumulation(at_step=1.2), min_gradient_ratio=1.3) == []
    assert AccumulationNotAveraged().check(accumulation(first=None, at_step=None))  # no sampled norms: structure alone
