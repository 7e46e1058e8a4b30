"""Which setting to change for which finding: the candidate fixes `nndoctor run --try-fixes`
tries, and the one-line code change each one stands for.

A fix here is a change of a *setting* that can be applied to an unchanged script from
inside the watch session (nndoctor.torch.watch.fixes does it): scale the learning rate,
insert a warm-up, switch dropout off, re-initialise the weights, clip the gradients,
zero them at each step, restore the train/eval modes, scale the weight decay. Findings
whose cure is a code change of another kind (a wrong loss, a detached tensor) have no
entry: no trial can stand in for reading the code.

Everything is plain data (the rule ids of the findings, the facts a baseline trial
measured), so this module imports no framework.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nndoctor.core.numbers import num

# Warm-up from η0/20 to η0 over about a tenth of the steps (003 §4.5.4: η0/20 for ~10 % of an epoch).
WARMUP_START_FACTOR = 1 / 20
WARMUP_FRACTION = 0.1
# In a short trial a tenth of the steps is hardly a ramp: Adam's second-moment average
# (β2 = 0.999) is still noisy after 5 steps; 10 is the usual short warm-up.
WARMUP_MIN_STEPS = 10
CLIP_MAX_NORM = 1.0  # the common default; a gradient norm above it is rescaled, not dropped
MAX_CANDIDATES = 8  # each trial is a fresh run of the script: the budget is time

RELU_FAMILY = {"ReLU", "ReLU6", "LeakyReLU", "PReLU", "RReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
               "Hardswish"}
SQUASHING = {"Tanh", "Sigmoid", "Hardtanh", "Softsign", "Hardsigmoid", "LogSigmoid"}


@dataclass(frozen=True)
class Fix:
    """One candidate: `kind` names the interception, `params` its arguments."""

    id: str
    kind: str
    title: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "title": self.title, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fix:
        return cls(id=data["id"], kind=data["kind"], title=data["title"], params=dict(data.get("params") or {}))


FIXES = {fix.id: fix for fix in (
    Fix("lr-x0.1", "lr_scale", "learning rate ×0.1", {"factor": 0.1}),
    Fix("lr-x0.01", "lr_scale", "learning rate ×0.01", {"factor": 0.01}),
    Fix("lr-x10", "lr_scale", "learning rate ×10", {"factor": 10.0}),
    Fix("warmup", "warmup", "linear warm-up from lr/20", {"start_factor": WARMUP_START_FACTOR}),
    Fix("clip-grad", "clip_grad", f"clip the gradient norm at {num(CLIP_MAX_NORM)}", {"max_norm": CLIP_MAX_NORM}),
    Fix("init-he", "reinit", "He (Kaiming) initialisation", {"scheme": "he"}),
    Fix("init-xavier", "reinit", "Xavier (Glorot) initialisation", {"scheme": "xavier"}),
    Fix("dropout-off", "dropout_off", "dropout off (p = 0)"),
    Fix("zero-grad", "zero_grad", "zero the gradients at every step"),
    Fix("train-mode", "train_mode", "model.train() before training forwards"),
    Fix("eval-mode", "eval_mode", "model.eval() for evaluation passes"),
    Fix("weight-decay-x0.1", "weight_decay_scale", "weight decay ×0.1", {"factor": 0.1}),
)}

# Rule id -> candidate fixes, most likely cure first. The lr direction follows the symptom:
# updates too large / divergence -> smaller lr, warm-up, clipping; updates too small -> larger.
RULE_FIXES: dict[str, tuple[str, ...]] = {
    "update-ratio-high": ("lr-x0.1", "lr-x0.01", "warmup", "init-he", "init-xavier"),
    "loss-diverging": ("lr-x0.1", "warmup", "clip-grad", "lr-x0.01"),
    "non-finite": ("lr-x0.1", "clip-grad", "warmup", "lr-x0.01"),
    "exploding-gradients": ("clip-grad", "lr-x0.1", "init-he", "init-xavier"),
    "loss-oscillating": ("lr-x0.1", "warmup"),
    "lr-above-curvature-limit": ("lr-x0.1", "lr-x0.01"),
    "update-ratio-low": ("lr-x10",),
    "loss-not-decreasing": ("lr-x10", "lr-x0.1", "warmup", "init-he", "init-xavier"),
    "loss-at-chance": ("lr-x0.1", "warmup", "lr-x10", "init-he", "init-xavier"),
    "vanishing-gradients": ("init-he", "init-xavier", "warmup"),
    "initial-loss-off": ("init-xavier", "init-he"),
    "saturated-activation": ("init-xavier", "init-he", "lr-x0.1"),
    "activation-blowup": ("init-he", "init-xavier"),
    "init-scale-mismatch": ("init-he", "init-xavier"),
    "dead-relu": ("init-he", "lr-x0.1"),
    "cannot-overfit-batch": ("dropout-off", "lr-x10", "lr-x0.1"),
    "dropout-with-normalization": ("dropout-off",),
    "missing-zero-grad": ("zero-grad",),
    "train-mode-missing": ("train-mode",),
    "eval-mode-missing": ("eval-mode",),
    "weight-decay-high": ("weight-decay-x0.1",),
}

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Candidate:
    """A fix to try and the findings (rule ids) it is meant to cure."""

    fix: Fix
    targets: list[str]


def candidate_fixes(findings: list[dict[str, Any]], facts: dict[str, Any]) -> list[Candidate]:
    """The fixes to try for a run's findings (plain dicts with `rule` and `severity`), worst
    finding first, each fix once with every finding it targets. Fixes that cannot change
    this run are left out (weight decay ×0.1 when no group decays, He when the model's
    activations are all tanh/sigmoid, Xavier when they are all ReLU-like)."""
    ordered = sorted(findings, key=lambda f: SEVERITY_ORDER.get(f.get("severity"), 3))
    candidates: dict[str, Candidate] = {}
    for finding in ordered:
        for fix_id in RULE_FIXES.get(finding.get("rule"), ()):
            fix = FIXES[fix_id]
            if not applicable(fix, facts):
                continue
            candidate = candidates.get(fix_id)
            if candidate is None:
                candidates[fix_id] = Candidate(fix, [finding["rule"]])
            elif finding["rule"] not in candidate.targets:
                candidate.targets.append(finding["rule"])
    return list(candidates.values())[:MAX_CANDIDATES]


def applicable(fix: Fix, facts: dict[str, Any]) -> bool:
    groups = [g for o in facts.get("optimizers", []) for g in o.get("groups", [])]
    if fix.kind in ("lr_scale", "warmup", "clip_grad", "zero_grad", "weight_decay_scale") and not groups:
        return False  # these act through optimizer.step(); a hand-written update never calls it
    if fix.kind == "weight_decay_scale":
        return any((g.get("weight_decay") or 0) > 0 for g in groups)
    if fix.kind == "lr_scale":
        return any((g.get("lr") or 0) > 0 for g in groups)
    if fix.kind == "reinit":
        activations = set(facts.get("activations", []))
        relu_like, squashing = bool(activations & RELU_FAMILY), bool(activations & SQUASHING)
        if fix.params["scheme"] == "he":
            return relu_like or not squashing
        return squashing or not relu_like
    if fix.kind == "dropout_off":
        return facts.get("dropout_modules", 0) > 0 or facts.get("functional_dropout_calls", 0) > 0
    return True


def warmup_steps(steps: int) -> int:
    """The warm-up length for a run of `steps` updates: ~10 % of them, at least a few."""
    return max(WARMUP_MIN_STEPS, math.ceil(WARMUP_FRACTION * max(steps, 1)))


def code_change(fix: Fix, facts: dict[str, Any]) -> str:
    """The line to write in the script for this fix, with the run's own numbers."""
    optimizers = facts.get("optimizers") or []
    first = optimizers[0] if optimizers else {"kind": "SGD", "groups": []}
    kind = first.get("kind", "SGD")
    groups = first.get("groups") or []
    if fix.kind == "lr_scale":
        return _scaled_setting(kind, groups, "lr", fix.params["factor"])
    if fix.kind == "weight_decay_scale":
        return _scaled_setting(kind, [g for g in groups if (g.get("weight_decay") or 0) > 0], "weight_decay",
                               fix.params["factor"])
    if fix.kind == "warmup":
        steps = fix.params.get("steps") or warmup_steps(facts.get("steps", 0))
        return (f"warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor={num(fix.params['start_factor'])}, "
                f"total_iters={steps})  # and warmup.step() after each optimizer.step()")
    if fix.kind == "clip_grad":
        return (f"torch.nn.utils.clip_grad_norm_(model.parameters(), {num(fix.params['max_norm'])})"
                "  # before optimizer.step()")
    if fix.kind == "reinit":
        if fix.params["scheme"] == "he":
            init = 'nn.init.kaiming_normal_(m.weight, nonlinearity="relu")'
        else:
            init = 'nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("tanh"))'
        return (f"for m in model.modules(): if isinstance(m, (nn.Linear, nn.Conv2d)): {init}; "
                "nn.init.zeros_(m.bias)")
    if fix.kind == "dropout_off":
        return "nn.Dropout(p=0.0)  # every dropout (and dropout_p=0 in F.dropout/attention) while debugging"
    if fix.kind == "zero_grad":
        return "optimizer.zero_grad()  # before each loss.backward() (after optimizer.step() when accumulating)"
    if fix.kind == "train_mode":
        return "model.train()  # at the start of every training epoch, after the evaluation pass"
    if fix.kind == "eval_mode":
        return "model.eval()  # before the evaluation loop (with torch.no_grad()), model.train() after it"
    raise ValueError(f"unknown fix kind {fix.kind!r}")


def _scaled_setting(kind: str, groups: list[dict[str, Any]], name: str, factor: float) -> str:
    values = [g.get(name) for g in groups if isinstance(g.get(name), (int, float))]
    if not values:
        return f"every param group's {name} ×{num(factor)}"
    if len(set(values)) == 1:
        return f"torch.optim.{kind}(model.parameters(), {name}={num(values[0] * factor)})  # was {name}={num(values[0])}"
    scaled = ", ".join(f"group {i}: {num(v * factor)} (was {num(v)})" for i, v in enumerate(values))
    return f"every param group's {name} ×{num(factor)} — {scaled}"
