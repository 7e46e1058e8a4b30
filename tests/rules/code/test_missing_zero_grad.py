from nndoctor.core import Measurements
from nndoctor.rules.code.missing_zero_grad import MissingZeroGrad


def event(step, names=("fc.weight", "fc.bias"), update="SGD"):
    return {"step": step, "update": update, "stale_params": list(names), "checked_params": 2}


def test_fires_at_the_first_stale_update():
    findings = MissingZeroGrad().check(Measurements(stale_grad_updates=[event(1), event(2), event(3)]))
    assert len(findings) == 1
    finding = findings[0]
    assert finding.rule == "missing-zero-grad"
    assert finding.severity == "error"
    assert finding.step == 1
    assert finding.evidence["stale_updates"] == 3
    assert finding.evidence["stale_params"] == ["fc.weight", "fc.bias"]
    assert "zero_grad" in finding.fixes[0]


def test_healthy_run_has_no_finding():
    assert MissingZeroGrad().check(Measurements(stale_grad_updates=[])) == []


def test_threshold_on_number_of_stale_updates():
    m = Measurements(stale_grad_updates=[event(4, update="manual update")])
    assert MissingZeroGrad().check(m, min_stale_updates=2) == []
    fired = MissingZeroGrad().check(m, min_stale_updates=1)
    assert fired and fired[0].where == "manual update"


def test_running_count_beyond_the_bounded_list():
    events = [event(step) for step in range(1, 21)]
    events[-1]["seen_updates"] = 75
    finding = MissingZeroGrad().check(Measurements(stale_grad_updates=events))[0]
    assert finding.evidence["stale_updates"] == 75 and "75 update(s)" in finding.message
