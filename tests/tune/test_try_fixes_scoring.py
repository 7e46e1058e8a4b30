"""The plain parts of --try-fixes: which fixes a run's findings call for, the code change
each one stands for, and how a trial is scored against the baseline (hand-written trials)."""
import math

import pytest

from nndoctor.report.terminal import plain_text
from nndoctor.report.terminal_try_fixes import sparkline, try_fixes_renderables
from nndoctor.tune.fix_catalogue import FIXES, RULE_FIXES, Candidate, candidate_fixes, code_change, warmup_steps
from nndoctor.tune.try_fixes import TrialRun, loss_summary, score_trial

ADAM = {"optimizers": [{"kind": "Adam", "adaptive": True, "groups": [{"lr": 1.0, "weight_decay": 0.0}]}],
        "activations": ["ReLU"], "dropout_modules": 2, "steps": 40}


def finding(rule, severity="warning"):
    return {"rule": rule, "severity": severity}


def test_every_table_entry_names_a_known_fix_and_a_registered_rule():
    from nndoctor.core.registry import load_rules

    registry = load_rules()
    for rule, fixes in RULE_FIXES.items():
        assert all(fix in FIXES for fix in fixes), rule
        assert rule in registry, rule


def test_candidates_follow_the_worst_finding_first_and_merge_targets():
    found = [finding("update-ratio-high"), finding("non-finite", "error")]
    candidates = candidate_fixes(found, ADAM)
    assert candidates[0].fix.id == "lr-x0.1" and candidates[0].targets == ["non-finite", "update-ratio-high"]
    assert [c.fix.id for c in candidates][:4] == ["lr-x0.1", "clip-grad", "warmup", "lr-x0.01"]
    assert "init-xavier" not in {c.fix.id for c in candidates}  # the model's activations are ReLU


def test_fixes_that_cannot_change_the_run_are_left_out():
    assert candidate_fixes([finding("weight-decay-high")], ADAM) == []  # no group decays
    tanh = dict(ADAM, activations=["Tanh"])
    assert [c.fix.id for c in candidate_fixes([finding("vanishing-gradients")], tanh)] == ["init-xavier", "warmup"]
    unknown = dict(ADAM, activations=[])
    assert {"init-he", "init-xavier"} <= {c.fix.id for c in candidate_fixes([finding("vanishing-gradients")], unknown)}
    manual = dict(ADAM, optimizers=[])
    assert [c.fix.id for c in candidate_fixes([finding("update-ratio-high")], manual)] == ["init-he"]


def test_healthy_and_unfixable_findings_give_no_candidates():
    assert candidate_fixes([], ADAM) == []
    assert candidate_fixes([finding("probabilities-to-logit-loss", "error")], ADAM) == []


def test_code_changes_carry_the_runs_numbers():
    assert code_change(FIXES["lr-x0.01"], ADAM) == "torch.optim.Adam(model.parameters(), lr=0.01)  # was lr=1"
    two_groups = {"optimizers": [{"kind": "SGD", "groups": [{"lr": 0.1}, {"lr": 0.01}]}]}
    assert "group 0: 0.01 (was 0.1), group 1: 0.001 (was 0.01)" in code_change(FIXES["lr-x0.1"], two_groups)
    assert "total_iters=10" in code_change(FIXES["warmup"], ADAM)
    assert code_change(FIXES["clip-grad"], ADAM).startswith("torch.nn.utils.clip_grad_norm_(model.parameters(), 1)")
    assert "kaiming_normal_" in code_change(FIXES["init-he"], ADAM)


def test_warmup_length_is_a_tenth_with_a_floor():
    assert warmup_steps(36) == 10 and warmup_steps(1000) == 100


def test_loss_summary_uses_the_last_tenth_and_flags_divergence():
    assert loss_summary([4.0] * 20 + [2.0, 1.0, 3.0]) == {"updates": 23, "final": 2.0, "min": 1.0, "first": 4.0,
                                                          "diverged": False}
    diverged = loss_summary([1.0, 2.0, 5.0, math.nan])
    assert diverged["diverged"] and diverged["final"] == math.inf and diverged["min"] == 1.0
    assert loss_summary([])["final"] is None


def run(rules=(), losses=(1.0,) * 10, checks=("update-ratio-high", "missing-zero-grad"), applied=5, status="ok"):
    report = {"findings": [finding(r) for r in rules], "checks_run": list(checks)}
    return TrialRun(status, {"report": report, "losses": list(losses), "fix_applied": applied})


BASELINE = run(["update-ratio-high"], [2.0] * 10)


def score(trial, fix="lr-x0.1", targets=("update-ratio-high",)):
    return score_trial(Candidate(FIXES[fix], list(targets)), trial, BASELINE, loss_summary(BASELINE.losses))


@pytest.mark.parametrize("trial, verdict", [
    (run([], [1.0] * 10), "cured"),
    (run(["update-ratio-high"], [1.0] * 10), "not cured"),
    (run([], [1.96] * 10), "symptom gone"),  # within 5 % of the baseline: silenced, not cured
    (run([], [2.2] * 10), "loss worse"),
    (run([], [1.0] * 9 + [math.nan]), "loss worse"),
    (run(["loss-at-chance"], [1.0] * 10), "new problem"),
    (run([], [1.0] * 10, checks=()), "not judged"),  # the rule did not run in the trial
    (run([], [1.0] * 10, applied=0), "never applied"),
    (TrialRun("timeout", detail="stopped"), "timeout"),
])
def test_verdicts(trial, verdict):
    row = score(trial)
    assert row["verdict"] == verdict
    assert row["cured"] == (verdict == "cured")


def test_mode_fixes_are_judged_by_the_finding_not_the_training_loss():
    """Dropout back on in train mode raises the training loss; that is no reason to reject the cure."""
    row = score(run([], [2.4] * 10), fix="train-mode", targets=("missing-zero-grad",))
    assert row["verdict"] == "cured"


def test_sparkline_shares_the_scale_and_marks_non_finite():
    assert sparkline([1, 2, 3, 4], 1, 4, False) == "▁▃▆█"
    assert sparkline([1, math.nan], 1, 4, False) == "▁×"
    assert len(sparkline(list(range(100)), 0, 99, False, width=10)) == 10


def test_table_names_the_cure_and_its_code_change():
    record = {"steps": 10, "seed": 0, "nothing_to_try": False, "recommended": "lr-x0.1",
              "baseline": {"loss": [2.0] * 10, "loss_summary": loss_summary([2.0] * 10), "findings": ["update-ratio-high"]},
              "trials": [dict(score(run([], [1.0] * 10)), code_change=code_change(FIXES["lr-x0.1"], ADAM))]}
    text = plain_text(try_fixes_renderables(record))
    assert "Cured by learning rate ×0.1" in text and "lr=0.1)  # was lr=1" in text
    nothing = plain_text(try_fixes_renderables({"steps": 10, "seed": 0, "nothing_to_try": True,
                                                "reason": "no warning or error in these updates"}))
    assert "Nothing to try: no warning or error in these updates." in nothing
