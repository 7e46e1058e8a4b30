from nndoctor.rules.dynamics.activation_blowup import ActivationBlowup


def profiles(*rms_lists):
    return {"activation_rms": {"profiles": [
        {"step": 10 * i, "layers": [f"fc{j + 1}" for j in range(len(rms))], "rms": list(rms)}
        for i, rms in enumerate(rms_lists)]}}


def test_geometric_growth_fires():
    growth = [1.0, 11.0, 130.0, 1400.0, 16000.0, 3.0]
    [finding] = ActivationBlowup().check(profiles(growth, growth))
    assert finding.rule == "activation-blowup" and finding.severity == "warning"
    assert finding.where == "fc5" and finding.evidence["growth"] == 16000.0
    assert finding.step == 0


def test_kaiming_like_profile_and_large_logits_do_not_fire():
    assert ActivationBlowup().check(profiles([0.8, 1.5, 1.2, 1.4, 60.0])) == []  # last layer = logits


def test_threshold_and_majority_of_steps():
    assert ActivationBlowup().check(profiles([1.0, 5.0, 99.0, 1.0])) == []
    assert ActivationBlowup().check(profiles([1.0, 5.0, 101.0, 1.0]))
    assert ActivationBlowup().check(profiles([1.0, 5.0, 101.0, 1.0]), growth_factor=1000) == []
    calm = [1.0, 1.0, 1.0, 1.0]
    assert ActivationBlowup().check(profiles([1.0, 5.0, 500.0, 1.0], calm, calm)) == []
