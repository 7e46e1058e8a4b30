from nndoctor.rules.code.nondeterministic import Nondeterministic


def runs(first, second, param_difference=0.0):
    differences = [abs(a - b) / max(abs(a), abs(b)) for a, b in zip(first, second)]
    return {"determinism": {
        "steps": 3, "losses_first": first, "losses_second": second,
        "max_loss_relative_difference": max(differences), "max_parameter_relative_difference": param_difference,
        "first_differing_step": next((i for i, d in enumerate(differences) if d > 0), None),
        "bitwise_identical": first == second and param_difference == 0}}


def test_positive():
    found = Nondeterministic().check(runs([0.69, 0.60, 0.52, 0.45], [0.70, 0.61, 0.52, 0.46]))
    assert found[0].rule == "nondeterministic" and found[0].severity == "warning"
    assert found[0].step == 0 and found[0].evidence["max_loss_relative_difference"] > 1e-3


def test_negative_identical_runs():
    assert Nondeterministic().check(runs([0.69, 0.6, 0.5, 0.4], [0.69, 0.6, 0.5, 0.4])) == []


def test_threshold_round_off_is_tolerated():
    slightly = runs([0.69, 0.6], [0.69, 0.6 * (1 + 1e-6)])
    assert Nondeterministic().check(slightly) == []
    assert Nondeterministic().check(slightly, relative_difference_max=1e-7) != []
    assert Nondeterministic().check(runs([1.0], [1.0], param_difference=1e-3)) != []
