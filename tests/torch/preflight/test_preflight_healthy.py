"""Correct, ordinary setups must produce no warning from any preflight rule."""
import pytest
import torch
import torch.nn as nn

import nndoctor
from nndoctor.core import UsageError
from preflight_tiny_models import N, MLP, classification_batch, healthy_setups, regression_batch

MY_AREAS = ["code", "preflight"]


@pytest.mark.parametrize("setup", healthy_setups(), ids=lambda s: s[0])
def test_healthy_setup_has_no_warnings(setup):
    name, model, batch, loss_fn, optimizer = setup
    report = nndoctor.preflight(model, batch, loss_fn, optimizer, select=MY_AREAS)
    serious = [(f.rule, f.message) for f in report.findings if f.severity != "info"]
    assert serious == []
    for rule in ("cannot-overfit-batch", "ignores-input", "batch-mixing", "nondeterministic", "invalid-output",
                 "initial-loss-off", "no-gradient", "params-not-updated"):
        assert rule in report.checks_run


def test_healthy_without_optimizer_and_with_tuple_and_dict_inputs():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.head = nn.Linear(12, 16), nn.Linear(3, 16), nn.Linear(16, 4)

        def forward(self, x, extra):
            return self.head(torch.relu(self.a(x) + self.b(extra)))

    torch.manual_seed(0)
    x, y = classification_batch()
    extra = torch.randn(N, 3)
    model = TwoInputs()
    for inputs in ((x, extra), {"x": x, "extra": extra}):
        report = nndoctor.preflight(model, (inputs, y), nn.CrossEntropyLoss(), select=MY_AREAS)
        assert [f for f in report.findings if f.severity != "info"] == []


def test_regression_with_duplicate_inputs_and_different_targets_is_not_cannot_overfit():
    torch.manual_seed(0)
    x, _ = regression_batch()
    x = torch.cat([x[: N // 2], x[: N // 2]])  # every input twice
    y = torch.randn(N, 1)  # with different targets: the MSE floor is their within-pair variance
    model = MLP(outputs=1)
    report = nndoctor.preflight(model, (x, y), nn.MSELoss(), torch.optim.Adam(model.parameters(), 1e-3),
                                select=["cannot-overfit-batch"])
    assert report.findings == []
    assert report.checks_run[0] == "cannot-overfit-batch"


def test_options_select_ignore_steps_thresholds():
    torch.manual_seed(0)
    model = MLP()
    batch = classification_batch()
    report = nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), select=["batch-mixing"], steps=5, seed=3)
    assert set(report.checks_run) == {"batch-mixing", "internal-error"}
    assert report.context["steps_budget"] == 5 and report.context["seed"] == 3
    report = nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), ignore=["preflight", "architecture"])
    assert "cannot-overfit-batch" not in report.checks_run and "no-gradient" in report.checks_run
    # A threshold no model can meet turns the healthy initial loss into a finding.
    report = nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), select=["initial-loss-off"],
                                thresholds={"initial-loss-off": {"classification_ratio_high": 0.1}})
    assert [f.rule for f in report.findings] == ["initial-loss-off"]
    with pytest.raises(UsageError, match="unknown option"):
        nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), step=3)
    with pytest.raises(UsageError, match="unknown rule or area"):
        nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), select=["no-such-rule"])
    with pytest.raises(UsageError, match="no threshold"):
        nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), select=["initial-loss-off"],
                           thresholds={"initial-loss-off": {"ratio": 2}})


class ScaledSGD(torch.optim.Optimizer):
    """A custom optimizer whose constructor needs an argument that is not in its defaults."""

    def __init__(self, params, scale, lr=0.1):
        super().__init__(params, dict(lr=lr))
        self.scale = scale

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad, alpha=-group["lr"] * self.scale)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: ScaledSGD(params, scale=1.0),
    lambda params: torch.optim.LBFGS(params, lr=0.5),
    lambda params: (lambda p: torch.optim.SGD([{"params": p[:2], "lr": 0.05}, {"params": p[2:]}], lr=0.01))(list(params)),
], ids=["custom", "lbfgs", "param-groups"])
def test_other_optimizers_are_recreated_without_faults(make_optimizer):
    torch.manual_seed(0)
    model = MLP()
    optimizer = make_optimizer(model.parameters())
    report = nndoctor.preflight(model, classification_batch(), nn.CrossEntropyLoss(), optimizer, select=MY_AREAS)
    assert [f.rule for f in report.findings if f.severity != "info"] == []
    assert "params-not-updated" in report.checks_run and "cannot-overfit-batch" in report.checks_run


def test_hard_coded_batch_size_falls_back_to_the_whole_batch():
    class FixedBatch(MLP):
        def forward(self, x):
            return super().forward(x.view(32, -1))  # only works for exactly 32 samples

    torch.manual_seed(0)
    x, y = torch.randn(32, 12), torch.randint(0, 4, (32,))
    report = nndoctor.preflight(FixedBatch(), (x, y), nn.CrossEntropyLoss(), select=MY_AREAS)
    assert [f.rule for f in report.findings if f.severity != "info"] == []
    assert "cannot-overfit-batch" in report.checks_run and "ignores-input" in report.checks_run


def test_unscaled_regression_targets_are_blamed_not_the_code():
    torch.manual_seed(0)
    x, y = regression_batch()
    model = MLP(outputs=1)
    report = nndoctor.preflight(model, (x, y * 10 + 50), nn.MSELoss(), torch.optim.Adam(model.parameters(), 1e-3),
                                select=MY_AREAS)
    assert [(f.rule, f.severity) for f in report.findings] == [("cannot-overfit-batch", "warning")]
    assert "regression targets" in report.findings[0].message


class SparseBag(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 16, sparse=True)
        self.head = nn.Linear(16, 3)

    def forward(self, ids):
        return self.head(self.embed(ids).mean(1))


def more_healthy_setups():
    torch.manual_seed(0)
    x = torch.randn(N, 10)
    multilabel = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 5))
    image = torch.randn(N, 3, 8, 8)
    smooth = nn.functional.avg_pool2d(image[:, :1], 3, 1, 1)[:, 0]
    segmenter = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.Conv2d(16, 3, 1))
    pixels = torch.rand(N, 1, 8, 8)
    autoencoder = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64), nn.Sigmoid(),
                                nn.Unflatten(1, (1, 8, 8)))
    bag = SparseBag()
    return [
        ("multilabel-imbalanced", multilabel, (x, (torch.rand(N, 5) < 0.1).float()), nn.BCEWithLogitsLoss(),
         torch.optim.Adam(multilabel.parameters(), 1e-3)),
        ("segmentation-conv-bias-before-batchnorm", segmenter, (image, (smooth > 0).long() + (smooth > 0.5).long()),
         nn.CrossEntropyLoss(), torch.optim.SGD(segmenter.parameters(), 0.01, momentum=0.9)),
        ("autoencoder", autoencoder, (pixels, pixels), nn.MSELoss(), torch.optim.Adam(autoencoder.parameters(), 1e-3)),
        ("sparse-embedding", bag, (torch.randint(0, 50, (N, 6)), torch.randint(0, 3, (N,))), nn.CrossEntropyLoss(),
         torch.optim.SGD(bag.parameters(), 0.1)),
    ]


@pytest.mark.parametrize("setup", more_healthy_setups(), ids=lambda s: s[0])
def test_more_healthy_setups_have_no_warnings(setup):
    name, model, batch, loss_fn, optimizer = setup
    report = nndoctor.preflight(model, batch, loss_fn, optimizer, select=MY_AREAS)
    assert [(f.rule, f.message) for f in report.findings if f.severity != "info"] == []
