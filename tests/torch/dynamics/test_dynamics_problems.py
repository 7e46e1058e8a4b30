"""Real tiny models with a real problem: the matching rule fires, with names and numbers."""
import torch
from dynamics_zoo import classification_data, dynamics_findings, mlp, train
from torch import nn
from torch.nn import functional as F


def by_rule(monitor):
    findings = {}
    for finding in dynamics_findings(monitor):
        findings.setdefault(finding.rule, finding)
    return findings


def test_learning_rate_10_explodes_and_turns_non_finite():
    torch.manual_seed(0)
    model = mlp()
    x, y = classification_data()
    monitor, faults = train(model, torch.optim.SGD(model.parameters(), 10.0), x, y, steps=60, every=1)
    found = by_rule(monitor)
    assert faults == []
    assert found["exploding-gradients"].evidence["growth"] >= 100
    assert found["update-ratio-high"].evidence["update_ratio_median"]
    non_finite = found["non-finite"]
    assert non_finite.severity == "error" and non_finite.evidence["largest_input"] >= 1e4
    assert "overflowed" in non_finite.message
    assert any("learning rate" in cause.lower() for cause in non_finite.causes)


def test_unstable_regression_diverges():
    torch.manual_seed(0)
    x = torch.randn(512, 20)
    y = x @ torch.randn(20, 1)
    model = nn.Linear(20, 1)
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.6), x, y, steps=200, every=5,
                       loss_fn=F.mse_loss)
    diverging = by_rule(monitor)["loss-diverging"]
    assert diverging.evidence["recent"] > 100 * diverging.evidence["best"]
    assert 0 < diverging.step < 200


def deep_net(activation, depth=6, width=64, weight_std=None):
    layers, inputs = [], 20
    for _ in range(depth):
        linear = nn.Linear(inputs, width)
        if weight_std is not None:
            nn.init.normal_(linear.weight, std=weight_std)
        layers += [linear, activation()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(width, 4))


def test_deep_sigmoid_network_has_vanishing_gradients():
    torch.manual_seed(0)
    model = deep_net(nn.Sigmoid)
    x, y = classification_data()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.1), x, y, steps=250)
    vanishing = by_rule(monitor)["vanishing-gradients"]
    assert vanishing.evidence["weakest_layer"] == "0.weight"
    assert vanishing.evidence["ratio"] < 1e-4


def test_large_initialisation_saturates_tanh():
    torch.manual_seed(0)
    model = deep_net(nn.Tanh, depth=3, weight_std=1.0)
    x, y = classification_data()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.01), x, y, steps=100)
    saturated = [f for f in dynamics_findings(monitor) if f.rule == "saturated-activation"]
    assert {f.where for f in saturated} >= {"2", "4"}  # tanh after the 2nd and 3rd linear layers
    assert all(f.evidence["saturated_share"] >= 0.5 and f.evidence["mean_abs_input"] > 2.65 for f in saturated)


def test_huge_negative_bias_kills_relu_units():
    torch.manual_seed(0)
    model = mlp()
    with torch.no_grad():
        model[0].bias.fill_(-20.0)
    x, y = classification_data()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.05), x, y, steps=200)
    dead = by_rule(monitor)["dead-relu"]
    assert dead.where == "0" and dead.evidence["dead_share"] == 1.0 and dead.evidence["units"] == 64


def test_functional_relu_is_seen_too():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(20, 32), nn.Linear(32, 4)
            nn.init.constant_(self.fc1.bias, -20.0)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    torch.manual_seed(0)
    x, y = classification_data()
    model = Functional()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.05), x, y, steps=100)
    assert by_rule(monitor)["dead-relu"].where == "fc1"


def test_std_one_initialisation_blows_up_activations():
    torch.manual_seed(0)
    model = deep_net(nn.ReLU, depth=5, width=256, weight_std=1.0)
    x, y = classification_data()
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 1e-6), x, y, steps=50)
    blowup = by_rule(monitor)["activation-blowup"]
    assert blowup.evidence["growth"] >= 100 and blowup.where == "8"


def test_tiny_learning_rate_is_update_ratio_low_and_not_decreasing():
    torch.manual_seed(0)
    model = mlp()
    x, y = classification_data()
    monitor, _ = train(model, torch.optim.Adam(model.parameters(), 1e-7), x, y, steps=300)
    found = by_rule(monitor)
    assert found["update-ratio-low"].where
    assert found["loss-not-decreasing"].evidence["relative_drop"] < 0.01


def test_memorising_a_small_set_overfits():
    torch.manual_seed(0)
    x, y = classification_data(n=600, features=20)
    y_noisy = y.clone()
    y_noisy[:48] = (y_noisy[:48] + 1) % 4  # label noise in the training part only
    model = mlp(hidden=256)
    monitor, _ = train(model, torch.optim.Adam(model.parameters(), 3e-3), x[:64], y_noisy[:64], steps=600,
                       batch=16, eval_every=25, x_val=x[100:], y_val=y[100:])
    overfitting = by_rule(monitor)["overfitting"]
    assert overfitting.evidence["latest_eval_loss"] > 1.1 * overfitting.evidence["best_eval_loss"]


def narrow_net(bias=None):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 3), nn.ReLU(), nn.Linear(3, 4))
    if bias is not None:
        with torch.no_grad():
            model[0].bias.fill_(bias)
    return model


def test_dead_narrow_layer_under_batches_of_one_is_judged_by_streaks():
    x, y = classification_data()
    model = narrow_net(bias=-20.0)
    monitor, _ = train(model, torch.optim.SGD(model.parameters(), 0.05), x, y, steps=450, batch=1)
    streaks = monitor.measurements()["activation_stats"]["relu after 0"]["inactive_streaks"]
    assert streaks["samples_seen"] == 45 and streaks["rows"] == [45, 45, 45] and streaks["since"] == [0, 0, 0]
    dead = by_rule(monitor)["dead-relu"]
    assert dead.step == 0 and dead.evidence["dead_share"] == 1.0 and dead.evidence["units"] == 3
    healthy = narrow_net()
    monitor, _ = train(healthy, torch.optim.SGD(healthy.parameters(), 0.01), x, y, steps=450, batch=1)
    assert "dead-relu" not in by_rule(monitor)
