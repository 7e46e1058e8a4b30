from dynamics_rule_data import sampled

from nndoctor.rules.dynamics.vanishing_gradients import VanishingGradients


def measurements(grad_to_weight: dict[str, float], kinds=None):
    kinds = kinds or {}
    m = {"grad_norm_per_layer": {}, "weight_norm_per_layer": {}, "parameter_kinds": {}}
    for order, (name, ratio) in enumerate(grad_to_weight.items()):
        m["grad_norm_per_layer"][name] = sampled([ratio * 2.0] * 6)
        m["weight_norm_per_layer"][name] = sampled([2.0] * 6)
        m["parameter_kinds"][name] = {"kind": kinds.get(name, "weight"), "order": order}
    return m


def test_deep_sigmoid_profile_fires():
    profile = {"0.weight": 1e-5, "2.weight": 5e-5, "4.weight": 4e-4, "6.weight": 3e-3, "8.weight": 0.58}
    [finding] = VanishingGradients().check(measurements(profile))
    assert finding.rule == "vanishing-gradients" and finding.severity == "warning"
    assert finding.evidence["weakest_layer"] == "0.weight" and finding.evidence["strongest_layer"] == "8.weight"
    assert finding.where == ["0.weight", "2.weight"]
    assert finding.step == 0


def test_healthy_spread_does_not_fire():
    profile = {"embed": 1e-9, "layer1": 2e-5, "layer2": 4e-5, "head": 4e-3}  # transformer-like, 5e-3 spread
    assert VanishingGradients().check(measurements(profile, {"embed": "embedding"})) == []


def test_threshold_and_direction():
    assert VanishingGradients().check(measurements({"a": 1.1e-4, "b": 1.0}))== []
    assert VanishingGradients().check(measurements({"a": 0.9e-4, "b": 1.0}))
    # a weak *later* layer is not vanishing: the gradient arrives there first
    assert VanishingGradients().check(measurements({"a": 1.0, "b": 1e-6})) == []
    assert VanishingGradients().check(measurements({"a": 0.9e-4, "b": 1.0}), relative_floor=1e-5) == []


def test_attention_query_and_key_projections_at_init_are_not_vanishing():
    from nndoctor.rules.dynamics.vanishing_gradients import is_attention_query_or_key

    assert is_attention_query_or_key("bert.encoder.layer.0.attention.self.query.weight")
    assert is_attention_query_or_key("transformer.h.0.attn.k_proj.weight")
    assert not is_attention_query_or_key("bert.encoder.layer.0.attention.output.dense.weight")
    assert not is_attention_query_or_key("keyboard_embedding.weight")


def test_exactly_zero_gradient_is_said_in_words_not_as_a_zero_factor():
    [finding] = VanishingGradients().check(measurements({"0.weight": 0.0, "2.weight": 0.0, "head.weight": 0.5}))
    assert "exactly zero gradient" in finding.message and "0×" not in finding.message
    assert finding.where == ["0.weight", "2.weight"]
