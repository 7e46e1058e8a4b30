"""Each candidate fix of `--try-fixes`, applied by interception to a real (tiny) training
script run in-process through the trial runner: what the script's own optimizer, model and
dropout saw while the fix was on, and that the script's values are back afterwards."""
import json
import math
import textwrap

import pytest
import torch
import torch.nn.functional as F

from nndoctor.torch.watch.fix_trial import run_trial
from nndoctor.tune.fix_catalogue import FIXES

SCRIPT = """
    import json, sys
    import torch
    from torch import nn

    out, flags = sys.argv[1], set(sys.argv[2:])
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 1))
    with torch.no_grad():
        for layer in (model[0], model[3]):
            layer.weight.normal_(std=1e-3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.01)
    seen = {"lr": [], "weight_decay": [], "grad_norm": [], "weight_std": [], "train_forward_training": [],
            "eval_forward_training": [], "stale_grad": [], "dropout_identity": [], "random": []}

    def before_step(opt, args, kwargs):
        group = opt.param_groups[0]
        seen["lr"].append(group["lr"])
        seen["weight_decay"].append(group["weight_decay"])
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        seen["grad_norm"].append(float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))))
        seen["weight_std"].append(float(model[0].weight.detach().std()))

    def on_forward(module, args):
        key = "train_forward_training" if torch.is_grad_enabled() else "eval_forward_training"
        seen[key].append(module.training)
        if torch.is_grad_enabled():
            seen["stale_grad"].append(model[0].weight.grad is not None)

    optimizer.register_step_pre_hook(before_step)
    model.register_forward_pre_hook(on_forward)
    model[2].register_forward_hook(lambda m, i, o: seen["dropout_identity"].append(bool(torch.equal(i[0], o))))
    inputs, targets = torch.randn(64, 4) * 50, torch.randn(64, 1)
    for step in range(6):
        if "stay-eval" in flags:
            model.eval()
        else:
            model.train()
        if "no-zero-grad" not in flags:
            optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if "no-eval" not in flags:
            model.eval()
        with torch.no_grad():
            model(inputs)
        seen["random"].append(float(torch.rand(1)))
    seen["lr_after"] = optimizer.param_groups[0]["lr"]
    seen["weight_decay_after"] = optimizer.param_groups[0]["weight_decay"]
    with open(out, "w") as handle:
        json.dump(seen, handle)
"""


@pytest.fixture
def trial(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))

    def run(fix_id=None, *flags, max_steps=100, params=None):
        out = tmp_path / "seen.json"
        out.unlink(missing_ok=True)
        fix = FIXES[fix_id].to_dict() if fix_id else None
        if fix is not None and params:
            fix["params"].update(params)
        outcome = run_trial({"script": str(script), "args": [str(out), *flags], "max_steps": max_steps,
                             "fix": fix, "live": False})
        seen = json.loads(out.read_text()) if out.exists() else None
        return outcome, seen
    return run


def test_baseline_records_losses_and_facts_and_changes_nothing(trial):
    outcome, seen = trial()
    assert len(outcome["losses"]) == 6 and all(math.isfinite(v) for v in outcome["losses"])
    assert outcome["fix_applied"] == 0 and not outcome["limit_reached"]
    assert seen["lr"] == [0.1] * 6
    assert seen["dropout_identity"][0::2] == [False] * 6  # training forwards (the others are evaluations)
    facts = outcome["facts"]
    assert facts["optimizers"] == [{"kind": "SGD", "adaptive": False, "groups": [{"lr": 0.1, "weight_decay": 0.01}]}]
    assert facts["activations"] == ["ReLU"] and facts["dropout_modules"] == 1 and facts["steps"] == 6


def test_same_seed_gives_the_same_losses(trial):
    assert trial()[0]["losses"] == trial()[0]["losses"]


def test_step_limit_ends_the_run_after_its_updates(trial):
    outcome, seen = trial(max_steps=3)
    assert outcome["limit_reached"] and outcome["script_exit_code"] == 0
    assert len(outcome["losses"]) == 3 and seen is None  # the script never reached its end


def test_lr_scale_acts_inside_the_step_only(trial):
    outcome, seen = trial("lr-x0.1")
    assert seen["lr"] == pytest.approx([0.01] * 6) and seen["lr_after"] == 0.1
    assert outcome["fix_applied"] == 6


def test_warmup_ramps_from_a_twentieth(trial):
    _, seen = trial("warmup", params={"steps": 4})
    assert seen["lr"] == pytest.approx([0.005, 0.02875, 0.0525, 0.07625, 0.1, 0.1])


def test_weight_decay_scale(trial):
    _, seen = trial("weight-decay-x0.1")
    assert seen["weight_decay"] == pytest.approx([0.001] * 6) and seen["weight_decay_after"] == 0.01


def test_clipping_bounds_the_gradient_norm(trial):
    _, unclipped = trial()
    assert max(unclipped["grad_norm"]) > 1.0
    _, seen = trial("clip-grad")
    assert max(seen["grad_norm"]) <= 1.0 + 1e-5


def test_reinit_replaces_the_tiny_weights_before_the_first_forward(trial):
    outcome, seen = trial("init-he")
    assert seen["weight_std"][0] == pytest.approx(math.sqrt(2 / 4), rel=0.35)  # He: std sqrt(2 / fan_in)
    assert outcome["fix_applied"] == 1


def test_reinit_keeps_the_scripts_random_stream(trial):
    """Dropout masks and data after the re-initialisation come from the same stream as without it."""
    _, baseline = trial()
    _, fixed = trial("init-xavier")
    assert baseline["random"] == fixed["random"]


def test_dropout_off(trial):
    _, seen = trial("dropout-off")
    assert seen["dropout_identity"] == [True] * 12


def test_zero_grad_after_each_step(trial):
    _, broken = trial(None, "no-zero-grad")
    assert broken["stale_grad"][1:] == [True] * 5
    outcome, seen = trial("zero-grad", "no-zero-grad")
    assert seen["stale_grad"] == [False] * 6
    assert "missing-zero-grad" not in {f["rule"] for f in outcome["report"]["findings"]}


def test_train_mode_restored_for_training_forwards(trial):
    _, broken = trial(None, "stay-eval")
    assert broken["train_forward_training"] == [False] * 6
    outcome, seen = trial("train-mode", "stay-eval")
    assert seen["train_forward_training"] == [True] * 6
    assert "train-mode-missing" not in {f["rule"] for f in outcome["report"]["findings"]}


def test_eval_mode_for_evaluation_forwards_only(trial):
    _, broken = trial(None, "no-eval")
    assert broken["eval_forward_training"] == [True] * 6
    _, seen = trial("eval-mode", "no-eval")
    assert seen["eval_forward_training"] == [False] * 6 and seen["train_forward_training"] == [True] * 6


def test_patches_are_gone_after_a_trial(trial):
    before = (torch.Tensor.backward, torch.autograd.backward, F.dropout, F.scaled_dot_product_attention)
    trial("dropout-off")
    assert (torch.Tensor.backward, torch.autograd.backward, F.dropout, F.scaled_dot_product_attention) == before
