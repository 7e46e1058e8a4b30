from nndoctor.rules.code.frozen_params import FrozenParams


def param(name, trainable=True, numel=100):
    return {"name": name, "shape": [numel], "numel": numel, "trainable": trainable, "in_optimizer": None,
            "got_grad": trainable, "grad_all_zero": False, "changed": None}


def test_positive_partly_frozen_is_info_and_all_frozen_is_error():
    found = FrozenParams().check({"parameter_status": [param("backbone.w", False, 900), param("head.w")]})
    assert found[0].rule == "frozen-params" and found[0].severity == "info"
    assert found[0].evidence["frozen"] == ["backbone.w"] and found[0].evidence["frozen_share"] == 0.9
    found = FrozenParams().check({"parameter_status": [param("a", False), param("b", False)]})
    assert found[0].severity == "error" and found[0].evidence["trainable_values"] == 0


def test_negative_nothing_frozen():
    assert FrozenParams().check({"parameter_status": [param("a"), param("b")]}) == []


def test_threshold_trainable_values():
    status = [param("backbone.w", False, 900), param("head.w", numel=10)]
    assert FrozenParams().check({"parameter_status": status})[0].severity == "info"
    assert FrozenParams().check({"parameter_status": status}, trainable_values_min=11)[0].severity == "error"


def test_frozen_parameters_handed_to_the_optimizer_are_a_warning():
    frozen = dict(param("head.weight", False, 96), in_optimizer=True)
    on_purpose = dict(param("backbone.w", False, 900), in_optimizer=False)
    found = FrozenParams().check({"parameter_status": [on_purpose, frozen, dict(param("head.bias", numel=3),
                                                                                in_optimizer=True)]})
    assert found[0].severity == "warning" and found[0].where == ["head.weight"]
    assert "requires_grad_(True)" in found[0].message
    # the fine-tuning recipe: the frozen backbone is not in the optimizer
    found = FrozenParams().check({"parameter_status": [on_purpose, dict(param("head.w"), in_optimizer=True)]})
    assert found[0].severity == "info"
