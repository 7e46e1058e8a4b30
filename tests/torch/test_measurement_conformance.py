"""What the torch adapter hands the rules conforms to nndoctor.core.measurements."""
from __future__ import annotations

import torch
from torch import nn

import nndoctor
from nndoctor.core.measurements import problems


def _capture(monkeypatch):
    import nndoctor.core.capability as module

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
    seen = _capture(monkeypatch)
    torch.manual_seed(0)
    x, y = torch.randn(16, 8), torch.randint(0, 3, (16,))
    model = _classifier()
    nndoctor.preflight(model, (x, y), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters()), steps=30)
    assert seen and problems(seen[0]) == []
    assert {"output_check", "initial_loss", "overfit", "parameter_status", "determinism"} <= set(seen[0])


def test_live_measurements_conform(monkeypatch):
    seen = _capture(monkeypatch)
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


def test_the_declared_capabilities_cover_what_the_adapter_hands_over(monkeypatch):
    """A rule runs where its measurements are declared produced: the declarations must name
    every measurement the torch adapter fills or explains, and only schema names."""
    from nndoctor.core.measurements import SCHEMA
    from nndoctor.torch.dynamics.monitor import MEASUREMENTS, DynamicsMonitor
    from nndoctor.torch.preflight.api import CAPABILITY as PREFLIGHT
    from nndoctor.torch.watch.reporting import CAPABILITY as RUN

    assert PREFLIGHT.produces <= set(SCHEMA) and RUN.produces <= set(SCHEMA)
    seen = _capture(monkeypatch)
    torch.manual_seed(0)
    model = _classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    nndoctor.preflight(model, (x, y), nn.CrossEntropyLoss(), optimizer, steps=10)
    preflight = seen[-1]
    assert set(preflight) | set(preflight.unavailable) <= PREFLIGHT.produces
    with nndoctor.watch(model, optimizer, every=2, live=False):
        for _ in range(6):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    run = seen[-1]
    assert set(run) | set(run.unavailable) <= RUN.produces
    monitor = DynamicsMonitor(model, every=2, faults=[])
    assert set(monitor.measurements()) == set(MEASUREMENTS)
    monitor.close()
