"""The first NaN/Inf is traced to where it began, not to where it was noticed."""
import torch
from dynamics_zoo import classification_data, dynamics_findings, train
from torch import nn

from nndoctor.torch.dynamics import DynamicsMonitor


class LogFeature(nn.Module):
    """Adds log(x0 + 2) as a feature: NaN as soon as a sample has x0 < -2."""

    def forward(self, x):
        return torch.cat([x, torch.log(x[:, :1] + 2.0)], dim=1)


class WithLog(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(20, 20), nn.ReLU())
        self.log_feature = LogFeature()
        self.head = nn.Sequential(nn.Linear(21, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.head(self.log_feature(x + 0 * self.encoder(x)))


def poisoned_data(bad_row: int):
    x, y = classification_data()
    x[:, 0] = x[:, 0].clamp(-1.5, 1.5)
    x[bad_row, 0] = -5.0  # log(-3): NaN, only in batches that contain this row
    return x, y


def first_batch_containing(row: int, n: int = 512, batch: int = 32, seed: int = 0) -> int:
    generator = torch.Generator().manual_seed(seed)
    step = 0
    while row not in torch.randint(0, n, (batch,), generator=generator).tolist():
        step += 1
    return step


def non_finite(monitor):
    return next(f for f in dynamics_findings(monitor) if f.rule == "non-finite")


def test_log_of_negative_names_the_custom_module():
    torch.manual_seed(0)
    x, y = poisoned_data(bad_row=7)
    model = WithLog()
    monitor, faults = train(model, torch.optim.Adam(model.parameters(), 1e-3), x, y, steps=80)
    finding = non_finite(monitor)
    assert faults == []
    assert finding.evidence["origin"] == "activation"
    assert finding.where == "log_feature" and finding.evidence["module_type"] == "LogFeature"
    assert finding.step == first_batch_containing(7)
    assert "log" in " ".join(finding.fixes)


def test_replay_leaves_training_state_untouched():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), LogFeature())
    monitor = DynamicsMonitor(model, every=10, faults=[])
    x = torch.randn(16, 20)
    x[3, 0] = -50.0
    running_mean = model[1].running_mean.clone()
    out = model(x)
    running_after_forward = model[1].running_mean.clone()
    rng_before = torch.get_rng_state()
    monitor.on_loss(out.sum(), 0)
    assert not torch.equal(running_mean, running_after_forward)
    assert torch.equal(model[1].running_mean, running_after_forward)  # replay did not update it again
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert monitor.measurements()["non_finite"]["module"] == "3"


def test_nan_in_the_batch_is_an_input_problem():
    torch.manual_seed(0)
    x, y = classification_data()
    x[11, 5] = float("nan")
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.1), x, y, steps=60)
    finding = non_finite(monitor)
    assert finding.evidence["origin"] == "input" and finding.where is None
    assert finding.step == first_batch_containing(11)


def test_infinite_gradient_of_sqrt_at_zero_is_a_gradient_problem():
    class SqrtBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(20, 16)
            self.fc2 = nn.Linear(16, 4)

        def forward(self, x):
            hidden = self.fc1(x)
            offset = hidden - hidden.detach()  # zero, with a gradient path
            distance = torch.sqrt((offset * offset).sum(1, keepdim=True))  # sqrt'(0) = inf: NaN backward
            return self.fc2(torch.relu(hidden)) + distance

    torch.manual_seed(0)
    x, y = classification_data()
    model = SqrtBlock()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.1), x, y, steps=20)
    finding = non_finite(monitor)
    assert finding.evidence["origin"] == "gradient"
    assert finding.where == "fc1"  # fc2's own gradient stays finite: the NaN was born below it
    assert finding.step == 1  # noticed on the loss after the first (damaging) update


def test_nan_parameters_before_training_are_a_parameter_problem():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))
    with torch.no_grad():
        model[1].weight[0, 0] = float("nan")
    monitor = DynamicsMonitor(model, every=10, faults=[])
    monitor.on_loss(model(torch.randn(8, 4)).mean(), 0)
    info = monitor.measurements()["non_finite"]
    assert info["origin"] == "parameter" and info["parameters"] == ["1.weight"]
