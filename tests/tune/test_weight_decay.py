"""The weight-decay measurements: groups, the measured effective decay (AdamW ≈ 1×, Adam's
L2 far off), the sweep, and their rules."""
import pytest
import torch
import torch.nn as nn

import nndoctor.tune as tune
from nndoctor.rules.tuning.weight_decay_coupled_to_adam import WeightDecayCoupledToAdam
from nndoctor.rules.tuning.weight_decay_on_wrong_params import WeightDecayOnWrongParams
from nndoctor.torch.preflight.snapshot import StateSnapshot
from tune_tasks import blobs, mlp

LOSS = nn.functional.cross_entropy


def sweep(optimizer_for, budget=20):
    model = mlp()
    optimizer = optimizer_for(model)
    snapshot = StateSnapshot.capture(model, optimizer)
    result = tune.weight_decay_sweep(model, blobs(), LOSS, optimizer, budget_steps=budget)
    assert snapshot.differences() == []
    return result


def test_adamw_decay_acts_as_nominal_and_is_quiet():
    result = sweep(lambda m: torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.01))
    assert result.decoupled and result.effective_decay["ratio"] == pytest.approx(1.0, rel=0.05)
    assert [p["weight_decay"] for p in result.sweep] == [0.0, 1e-6, 1e-5, 1e-4, 1e-3]
    norms = [p["weight_norm"] for p in result.sweep]
    assert norms[-1] < norms[0]  # more decay, smaller weights
    assert result.report().findings == []


def test_sgd_momentum_matches_its_expected_factor():
    result = sweep(lambda m: torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=0.01))
    effective = result.effective_decay
    assert effective["ratio"] == pytest.approx(effective["expected_ratio"], rel=0.1)
    assert result.report().findings == []


def test_adam_l2_coupling_is_found():
    result = sweep(lambda m: torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=0.01))
    assert not result.decoupled
    found = result.report().findings
    assert [f.rule for f in found] == ["weight-decay-coupled-to-adam"]
    assert found[0].evidence["ratio"] > 3 or found[0].evidence["ratio"] < 1 / 3


def test_decay_on_biases_only_is_found():
    def swapped(model):
        matrices = [p for p in model.parameters() if p.dim() >= 2]
        vectors = [p for p in model.parameters() if p.dim() < 2]
        return torch.optim.AdamW([{"params": matrices, "weight_decay": 0.0},
                                  {"params": vectors, "weight_decay": 0.1}], lr=1e-3)

    result = sweep(swapped)
    assert result.effective_decay["ratio"] is None
    found = result.report().findings
    assert [f.rule for f in found] == ["weight-decay-on-wrong-params"]
    assert found[0].where == ["param_groups[0]"]


def test_rules_at_their_thresholds():
    base = {"optimizer": "Adam", "decoupled": False, "groups": [],
            "effective_decay": {"ratio": 2.9, "value": 0.01, "steps": 10, "lr": 1e-3}}
    assert WeightDecayCoupledToAdam().check({"weight_decay": base}) == []
    base["effective_decay"]["ratio"] = 3.1
    assert WeightDecayCoupledToAdam().check({"weight_decay": base})
    base["effective_decay"]["ratio"] = 0.2
    assert WeightDecayCoupledToAdam().check({"weight_decay": base})
    groups = [{"index": 0, "weight_decay": 0.01, "matrices": 2, "vectors": 2, "parameters": 100}]
    assert WeightDecayOnWrongParams().check({"weight_decay": {"groups": groups}}) == []  # decay everywhere is ordinary
    assert WeightDecayOnWrongParams().check({"weight_decay": {"groups": [dict(groups[0], weight_decay=0.0)]}}) == []
