from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.weight_decay_high import WeightDecayHigh

# Norms measured at step 0 on real models (see report): a 20-64-10 MLP has ‖w‖ ≈ 5.0 and
# ‖g‖ ≈ 0.45 for cross-entropy; a small BN CNN ‖w‖ ≈ 11.5, ‖g‖ ≈ 0.70.


def group(weight_decay, lr=0.1, momentum=0.9, adaptive=False, decoupled=False, weight_norm=5.0, grad_norm=0.45,
          numel=1930, optimizer="SGD"):
    return {"optimizer": optimizer, "group": 0, "params": ["0.weight", "0.bias"], "param_count": 4, "numel": numel,
            "weight_decay": weight_decay, "decoupled_weight_decay": decoupled, "adaptive": adaptive,
            "momentum": momentum, "steps": 100, "zero_lr_steps": 0, "lr_first": lr, "lr_last": lr,
            "grad_norm_series": sampled([grad_norm] * 5), "weight_norm_series": sampled([weight_norm] * 5)}


def test_sgd_weight_decay_one_fires_with_ratio_and_halving_time():
    for lr, momentum in ((0.1, 0.9), (0.01, 0.0), (0.01, 0.9)):
        [finding] = WeightDecayHigh().check({"optimizer_groups": [group(1.0, lr=lr, momentum=momentum)]})
        assert finding.rule == "weight-decay-high" and finding.severity == "warning"
        assert abs(finding.evidence["decay_to_gradient"] - 5.0 / 0.45) < 0.01
        assert "SGD group 0" in finding.message and "halves the weights" in finding.message
    cnn = group(1.0, weight_norm=11.5, grad_norm=0.7)
    assert WeightDecayHigh().check({"optimizer_groups": [cnn]})


def test_ordinary_weight_decay_stays_silent():
    cases = [group(5e-4), group(1e-2), group(1e-2, weight_norm=166, grad_norm=2.0),  # ResNet-sized SGD
             group(0.01, lr=1e-3, adaptive=True, decoupled=True, momentum=None, optimizer="AdamW"),
             group(0.1, lr=1e-3, adaptive=True, decoupled=True, momentum=None, optimizer="AdamW"),
             group(0.1, lr=1e-3, adaptive=True, decoupled=True, momentum=None, optimizer="AdamW", weight_norm=500,
                   numel=110_000_000),
             group(0.0), group(5e-4, lr=1e-3, adaptive=True, momentum=None, optimizer="Adam")]
    for case in cases:
        assert WeightDecayHigh().check({"optimizer_groups": [case]}) == [], case


def test_coupled_adam_with_large_decay_fires_without_a_halving_time():
    [finding] = WeightDecayHigh().check({"optimizer_groups": [group(0.5, lr=1e-3, adaptive=True, momentum=None,
                                                                      optimizer="Adam")]})
    assert finding.evidence["halving_steps"] is None and "halves" not in finding.message


def test_thresholds():
    # ratio exactly 3: decay 0.27 x 5.0 / 0.45
    at = group(0.27)
    assert WeightDecayHigh().check({"optimizer_groups": [at]})
    assert WeightDecayHigh().check({"optimizer_groups": [group(0.26)]}) == []
    assert WeightDecayHigh().check({"optimizer_groups": [at]}, ratio_high=3.5) == []
    # the decay also has to be fast: lr 1e-4 without momentum halves the weights in ~25,700 steps
    assert WeightDecayHigh().check({"optimizer_groups": [group(0.27, lr=1e-4, momentum=0.0)]}) == []


def test_judged_at_the_start_not_at_convergence():
    # at the minimum of loss + λ/2‖w‖² the two terms are equal: late ratios near 1 say nothing
    late = group(5e-4)
    late["grad_norm_series"] = sampled([0.45, 0.4, 0.3] + [1e-4] * 20)
    late["weight_norm_series"] = sampled([5.0] * 23)
    assert WeightDecayHigh().check({"optimizer_groups": [late]}) == []
