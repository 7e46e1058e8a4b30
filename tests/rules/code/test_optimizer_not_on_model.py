from nndoctor.rules.code.optimizer_not_on_model import OptimizerNotOnModel


def model(name, covered=0, grad=True, manual=0):
    return {"model": name, "parameters": 4, "values": 1290, "got_grad": grad, "in_any_optimizer": covered,
            "manual_updates": manual}


def coverage(models, steps=40):
    return {"optimizer_coverage": {"optimizer_steps": steps, "optimizers": [{"name": "Adam", "param_count": 4}],
                                   "models": models}}


def test_optimizer_owning_nothing_of_the_model_is_an_error():
    [finding] = OptimizerNotOnModel().check(coverage([model("Net")]))
    assert finding.rule == "optimizer-not-on-model" and finding.severity == "error"
    assert finding.where == "Net" and finding.evidence["optimizer_steps"] == 40
    assert "1,290 values" in finding.message and "nothing is being trained" in finding.message
    assert OptimizerNotOnModel.retractable


def test_auxiliary_network_beside_a_trained_model_is_a_warning():
    [finding] = OptimizerNotOnModel().check(coverage([model("Net", covered=4), model("VGGLoss")]))
    assert finding.severity == "warning" and finding.where == "VGGLoss"
    assert finding.evidence["trained_models"] == ["Net"]


def test_covered_manual_or_gradient_free_models_are_silent():
    assert OptimizerNotOnModel().check(coverage([model("Net", covered=4)])) == []
    assert OptimizerNotOnModel().check(coverage([model("Net", manual=40)])) == []
    assert OptimizerNotOnModel().check(coverage([model("Teacher", grad=False), model("Net", covered=4)])) == []


def test_threshold_optimizer_steps():
    assert OptimizerNotOnModel().check(coverage([model("Net")], steps=1)) == []
    assert OptimizerNotOnModel().check(coverage([model("Net")], steps=2))
    assert OptimizerNotOnModel().check(coverage([model("Net")], steps=2), min_optimizer_steps=3) == []
