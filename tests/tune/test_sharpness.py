"""Top Hessian eigenvalue by power iteration against a dense eigendecomposition, and the
preflight experiment + rule lr-above-curvature-limit."""
import pytest
import torch
import torch.nn as nn

import nndoctor
from nndoctor.torch.tune.sharpness import top_hessian_eigenvalue


def dense_top_eigenvalue(model, x, y, loss_fn):
    named = list(model.named_parameters())
    shapes = [p.shape for _, p in named]
    sizes = [p.numel() for _, p in named]
    flat = torch.cat([p.detach().reshape(-1) for _, p in named])

    def loss_of(vector):
        state = {name: part.reshape(shape) for (name, _), part, shape in zip(named, torch.split(vector, sizes), shapes)}
        return loss_fn(torch.func.functional_call(model, state, (x,)), y)

    return float(torch.linalg.eigvalsh(torch.autograd.functional.hessian(loss_of, flat)).max())


@pytest.mark.parametrize("case", ["mlp-tanh", "mlp-relu-mse", "conv"])
def test_power_iteration_within_10_percent_of_dense(case):
    torch.manual_seed(0)
    if case == "mlp-tanh":
        model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
        x, y, loss_fn = torch.randn(32, 5), torch.randint(0, 3, (32,)), nn.functional.cross_entropy
    elif case == "mlp-relu-mse":
        model = nn.Sequential(nn.Linear(4, 10), nn.ReLU(), nn.Linear(10, 1))
        x = torch.randn(32, 4)
        y, loss_fn = x.sum(1, keepdim=True) * 3, nn.functional.mse_loss
    else:
        model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Flatten(), nn.Linear(12, 2))
        x, y, loss_fn = torch.randn(16, 1, 4, 4), torch.randint(0, 2, (16,)), nn.functional.cross_entropy
    measured = top_hessian_eigenvalue(model, x, y, loss_fn)
    assert measured["top_eigenvalue"] == pytest.approx(dense_top_eigenvalue(model, x, y, loss_fn), rel=0.1)


def test_buffers_are_put_back():
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    before = [b.clone() for b in model.buffers()]
    top_hessian_eigenvalue(model, torch.randn(16, 4), torch.randint(0, 2, (16,)), nn.functional.cross_entropy)
    assert all(torch.equal(a, b) for a, b in zip(before, model.buffers()))


def regression(scale):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
    x = scale * torch.randn(16, 4)
    return model, (x, x.sum(1, keepdim=True))


def test_rule_fires_for_an_sgd_rate_far_above_the_limit():
    model, batch = regression(10.0)  # unnormalised inputs: a sharp loss
    report = nndoctor.preflight(model, batch, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.5),
                                select=["lr-above-curvature-limit"])
    found = [f for f in report.findings if f.rule == "lr-above-curvature-limit"]
    assert found and found[0].severity == "warning"
    assert found[0].evidence["ratio"] > 2 and found[0].evidence["stable_lr_limit"] < 0.5


def test_rule_is_quiet_for_a_stable_rate_and_skips_adam():
    model, batch = regression(1.0)
    report = nndoctor.preflight(model, batch, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                                select=["lr-above-curvature-limit"])
    assert "lr-above-curvature-limit" in report.checks_run and report.findings == []
    report = nndoctor.preflight(model, batch, nn.MSELoss(), torch.optim.Adam(model.parameters()),
                                select=["lr-above-curvature-limit"])
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "SGD" in skipped["lr-above-curvature-limit"]


def test_rule_threshold_between_limit_and_catapult():
    from nndoctor.rules.preflight.lr_above_curvature_limit import LrAboveCurvatureLimit

    record = {"sharpness": {"top_eigenvalue": 100.0, "lr": 0.03, "momentum": 0.0, "iterations": 10}}
    assert LrAboveCurvatureLimit().check(record)[0].severity == "info"  # 1.5× the 2/λ limit
    record["sharpness"]["lr"] = 0.019
    assert LrAboveCurvatureLimit().check(record) == []
    record["sharpness"].update(lr=0.05, momentum=0.9)  # momentum raises the limit to 3.8/λ
    assert LrAboveCurvatureLimit().check(record)[0].severity == "info"
    assert LrAboveCurvatureLimit().check(record, catapult_ratio_max=1.2)[0].severity == "warning"


def test_power_iteration_fallback_for_large_models(monkeypatch):
    import nndoctor.torch.tune.sharpness as sharpness

    monkeypatch.setattr(sharpness, "LANCZOS_MEMORY_BYTES", 0)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    measured = top_hessian_eigenvalue(model, x, y, nn.functional.cross_entropy, iterations=200)
    assert measured["top_eigenvalue"] == pytest.approx(dense_top_eigenvalue(model, x, y, nn.functional.cross_entropy),
                                                       rel=0.1)
