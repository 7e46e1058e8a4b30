"""The learning-rate and batch-size rules on hand-written measurements: positive,
negative and at the threshold."""
import pytest

from nndoctor.rules.tuning.batch_size_off_noise_scale import BatchSizeOffNoiseScale
from nndoctor.rules.tuning.lr_far_from_best import LrFarFromBest
from nndoctor.rules.tuning.lr_needs_warmup import LrNeedsWarmup
from nndoctor.rules.tuning.no_usable_lr_valley import NoUsableLrValley


def lr_result(**changes):
    result = {"user_lr": 1e-3, "confirmed_lr": 1e-3, "best_held_out_loss": 0.5, "user_held_out_loss": 0.5,
              "initial_held_out_loss": 2.3, "budget_steps": 100, "largest_stable_lr": 1e-2, "refusal": None,
              "sweep_failure": None, "suggestions": [1e-3], "sweep": [], "warmup": None}
    result.update(changes)
    return {"lr_range": result}


def test_lr_far_from_best():
    rule = LrFarFromBest()
    assert rule.check(lr_result()) == []
    slow = rule.check(lr_result(user_lr=1e-5, user_held_out_loss=2.2))
    assert slow and slow[0].evidence["ratio"] == pytest.approx(100) and "below" in slow[0].message
    assert "Use lr=0.001" in slow[0].message
    diverged = rule.check(lr_result(user_lr=1.0, user_held_out_loss=None))
    assert diverged and "diverged" in diverged[0].message
    # Far away, but it reaches most of the best's gain: no finding.
    assert rule.check(lr_result(user_lr=1e-5, user_held_out_loss=0.8)) == []
    # At the ratio threshold: exactly 10× is not beyond it.
    assert rule.check(lr_result(user_lr=1e-4, user_held_out_loss=2.2)) == []
    assert rule.check(lr_result(user_lr=0.9e-4, user_held_out_loss=2.2))
    assert rule.check(lr_result(user_lr=1e-5, user_held_out_loss=1.0), recovered_share_min=0.8)


def test_no_usable_lr_valley():
    rule = NoUsableLrValley()
    assert rule.check(lr_result()) == []
    # The range test had no valley but the grid sweep confirmed a rate: a slow learner, no finding.
    assert rule.check(lr_result(refusal="the smoothed loss never fell")) == []
    found = rule.check(lr_result(confirmed_lr=None, refusal="the smoothed loss never fell more than 1%",
                                 sweep_failure="no rate of the sweep lowered the held-out loss"))
    assert found and found[0].severity == "warning" and "never fell" in found[0].message
    assert rule.check(lr_result(confirmed_lr=None)) == []  # the sweep was not run: no verdict


def test_lr_needs_warmup():
    rule = LrNeedsWarmup()
    probe = {"lr": 0.1, "warmup_steps": 3, "start_lr": 0.005, "held_out_with": 0.6, "held_out_without": None,
             "stable_with": True, "helps": True}
    found = rule.check(lr_result(warmup=probe))
    assert found and found[0].severity == "info" and "LinearLR" in found[0].fixes[0]
    assert rule.check(lr_result(warmup=dict(probe, helps=False))) == []
    assert rule.check(lr_result()) == []


def test_batch_size_off_noise_scale():
    rule = BatchSizeOffNoiseScale()
    record = {"b_simple": 100.0, "b_simple_low": 90.0, "b_simple_high": 110.0, "user_batch_size": 64}
    assert rule.check({"noise_scale": record}) == []
    above = rule.check({"noise_scale": dict(record, user_batch_size=4096)})
    assert above and "barely reduce" in above[0].message
    below = rule.check({"noise_scale": dict(record, user_batch_size=4)})
    assert below and "fewer steps" in below[0].message
    assert rule.check({"noise_scale": dict(record, user_batch_size=1100)}) == []  # exactly 10× the upper bound
    assert rule.check({"noise_scale": dict(record, user_batch_size=1101)})
    assert rule.check({"noise_scale": dict(record, b_simple=None, b_simple_low=None, b_simple_high=None)}) == []
