"""Issue 8, "a diagnosis must never be lost": a rule crashing at the final judgement costs
that rule only; mistakes in thresholds and selections stop `watch` before training."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import nndoctor
from nndoctor.core import UsageError
from nndoctor.core.registry import load_rules


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def train_without_zero_grad(steps=8):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x = torch.randn(64, 6)
    y = (x[:, 0] > 0).long()
    with nndoctor.watch(model, optimizer, live=False) as doctor:
        for _ in range(steps):
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return doctor.report


def test_a_rule_crashing_at_the_final_judgement_costs_that_rule_only(monkeypatch):
    healthy = train_without_zero_grad()
    assert "missing-zero-grad" in healthy.rules_found()
    rule = load_rules().get("loss-not-decreasing")
    assert rule.id in healthy.checks_run
    calls = {"n": 0}
    original = rule.check

    def crash_late(self, m, **thresholds):
        calls["n"] += 1
        if m.get("steps_observed") == 8:  # the final judgement only
            raise RuntimeError("injected fault")
        return original(self, m, **thresholds)

    monkeypatch.setattr(rule, "check", crash_late)
    report = train_without_zero_grad()
    assert calls["n"] >= 1
    assert "missing-zero-grad" in report.rules_found()  # every other finding survives
    crash = [f for f in report.findings if f.rule == "internal-error"]
    assert len(crash) == 1 and "loss-not-decreasing" in crash[0].message
    assert set(healthy.checks_run) - {rule.id} <= set(report.checks_run)
    assert rule.id not in report.checks_run
    assert {s.rule for s in healthy.checks_skipped} | {rule.id} == {s.rule for s in report.checks_skipped}


@pytest.mark.parametrize("options, message", [
    ({"thresholds": {"update-ratio-hihg": {"ratio_high": 1.0}}}, "did you mean 'update-ratio-high'"),
    ({"thresholds": {"update-ratio-high": {"ratio_hihg": 1.0}}}, "did you mean 'ratio_high'"),
    ({"thresholds": {"update-ratio-high": {"ratio_high": "big"}}}, "must be a number"),
    ({"ignore": ["dead-rel"]}, "did you mean 'dead-relu'"),
    ({"select": 3}, "select takes rule ids or areas"),
])
def test_watch_rejects_mistakes_before_training(options, message):
    model = nn.Linear(2, 1)
    with pytest.raises(UsageError, match=message):
        with nndoctor.watch(model, live=False, **options):
            raise AssertionError("the block must not run")


def test_watch_ignore_adds_to_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.nndoctor]\nignore = ["missing-zero-grad"]\n')
    monkeypatch.chdir(tmp_path)
    model = nn.Linear(2, 1)
    with nndoctor.watch(model, live=False, ignore=["dead-relu"]) as doctor:
        rules = {rule.id for rule in doctor._session.judge.rules}
    assert "missing-zero-grad" not in rules and "dead-relu" not in rules
    with nndoctor.watch(model, live=False, select=["missing-zero-grad"]) as doctor:
        assert [rule.id for rule in doctor._session.judge.rules if rule.area != "always"] == ["missing-zero-grad"]
