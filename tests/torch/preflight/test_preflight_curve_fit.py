"""Closure optimizers (LBFGS) and healthy low-dimensional regression: a 1-D curve fit."""
import pytest
import torch
import torch.nn as nn

import nndoctor
from nndoctor.torch.preflight.snapshot import StateSnapshot
from nndoctor.torch.preflight.workbench import needs_closure

MY_AREAS = ["code", "preflight"]


def curve(seed=0):
    """sin(3x) plus noise on 256 sorted points of [-2, 2], as a curve-fitting script has them."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.linspace(-2, 2, 256)[:, None]
    return x, torch.sin(3 * x) + 0.1 * torch.randn(256, 1, generator=generator)


def curve_mlp(activation=nn.Tanh):
    return nn.Sequential(nn.Linear(1, 64), activation(), nn.Linear(64, 64), activation(), nn.Linear(64, 1))


def make_optimizer(name, model):
    if name == "lbfgs":
        return torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=10, history_size=10,
                                 line_search_fn="strong_wolfe")
    return torch.optim.Adam(model.parameters(), lr=1e-3)


def fit(model, optimizer, x, y, steps=3):
    def closure():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    for _ in range(steps):
        optimizer.step(closure)


class BacktrackingSGD(torch.optim.Optimizer):
    """A custom optimizer whose step() requires a closure: halve the step until the loss falls."""

    def __init__(self, params, lr=0.5):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure):
        with torch.enable_grad():
            loss = float(closure().detach())
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        start = [p.clone() for p in params]
        grads = [p.grad.clone() for p in params]
        lr = self.param_groups[0]["lr"]
        for _ in range(10):
            for p, p0, g in zip(params, start, grads):
                p.copy_(p0 - lr * g)
            with torch.enable_grad():
                if float(closure().detach()) < loss:
                    break
            lr /= 2
        return loss


def test_needs_closure():
    params = [torch.zeros(1, requires_grad=True)]
    assert needs_closure(torch.optim.LBFGS(params))
    assert needs_closure(BacktrackingSGD(params))
    assert not needs_closure(torch.optim.Adam(params))
    assert not needs_closure(torch.optim.SGD(params, lr=0.1))


@pytest.mark.parametrize("optimizer_name", ["lbfgs", "custom-closure"])
def test_closure_optimizer_runs_without_internal_error_and_restores_state(optimizer_name):
    torch.manual_seed(0)
    x, y = curve()
    x, y = x[::16], y[::16]  # strided views: the snapshot compares them byte for byte too
    model = curve_mlp()
    optimizer = (BacktrackingSGD(model.parameters()) if optimizer_name == "custom-closure"
                 else make_optimizer("lbfgs", model))
    fit(model, optimizer, x, y)  # LBFGS history and gradients exist before preflight
    snapshot = StateSnapshot.capture(model, optimizer, x, y)
    report = nndoctor.preflight(model, (x, y), nn.MSELoss(), optimizer, select=MY_AREAS)
    assert snapshot.differences() == []
    assert [(f.rule, f.message) for f in report.findings if f.severity != "info"] == []
    assert "internal-error" in report.checks_run and "params-not-updated" in report.checks_run
    assert "cannot-overfit-batch" in report.checks_run


@pytest.mark.parametrize("optimizer_name", ["adam", "lbfgs"])
@pytest.mark.parametrize("activation", [nn.Tanh, nn.ReLU], ids=["tanh", "relu"])
@pytest.mark.parametrize("window", ["whole-curve", "first-16-points"])
def test_healthy_curve_fit_has_no_warnings(optimizer_name, activation, window):
    # The whole sorted curve is sliced to its first 16 points by the overfit experiment:
    # inputs in [-2, -1.76] that differ by 4% of their size, learnt slowly at Adam 1e-3.
    torch.manual_seed(0)
    x, y = curve()
    if window == "first-16-points":
        x, y = x[:16], y[:16]
    model = curve_mlp(activation)
    optimizer = make_optimizer(optimizer_name, model)
    report = nndoctor.preflight(model, (x, y), nn.MSELoss(), optimizer, select=MY_AREAS)
    assert [(f.rule, f.message) for f in report.findings if f.severity != "info"] == []
    assert "ignores-input" in report.checks_run


class Masked(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(torch.zeros_like(x))


@pytest.mark.parametrize("window", ["whole-curve", "spread-16-points"])
def test_curve_fit_that_masks_its_input_is_found(window):
    torch.manual_seed(0)
    x, y = curve()
    if window == "spread-16-points":
        x, y = x[::16], y[::16]
    model = Masked(curve_mlp())
    report = nndoctor.preflight(model, (x, y), nn.MSELoss(), torch.optim.Adam(model.parameters(), 1e-3),
                                select=["ignores-input"])
    assert [(f.rule, f.severity) for f in report.findings] == [("ignores-input", "warning")]
    evidence = report.findings[0].evidence
    assert evidence["real_final"] == evidence["zero_final"]
