"""What the torch adapter hands the rules conforms to nndoctor.core.measurements."""
from __future__ import annotations

import torch
from torch import nn

import nndoctor
from nndoctor.core.measurements import problems


def _capture(monkeypatch, module):
    seen = []
    original = module.run_rules

    def capturing(measurements, rules, **kwargs):
        seen.append(measurements)
        return original(measurements, rules, **kwargs)

    monkeypatch.setattr(module, "run_rules", capturing)
    return seen


def _classifier():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))


def test_preflight_measurements_conform(monkeypatch):
    import nndoctor.torch.preflight.api as api

    seen = _capture(monkeypatch, api)
    torch.manual_seed(0)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    model = _classifier()
    nndoctor.preflight(model, (x, y), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters()), steps=30)
    assert seen and problems(seen[0]) == []
    assert {"output_check", "initial_loss", "overfit", "parameter_status", "determinism"} <= set(seen[0])


def test_live_measurements_conform(monkeypatch):
    import nndoctor.live.judge as judge

    seen = _capture(monkeypatch, judge)
    torch.manual_seed(0)
    model = _classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    with nndoctor.watch(model, optimizer, every=2, live=False) as doctor:
        for step in range(12):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            doctor.log(val_loss=loss.item() + 0.1)
    assert seen
    final = seen[-1]
    assert final.get("loss_series") and final.get("grad_norm_per_layer")
    assert problems(final) == [], problems(final)
