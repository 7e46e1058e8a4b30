import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.init_scale_mismatch import InitScaleMismatch
from nndoctor.torch.architecture import measure_architecture


def mlp(depth, act=nn.ReLU, std=None, width=64):
    layers, size = [], 20
    for _ in range(depth - 1):
        linear = nn.Linear(size, width)
        if std is not None:
            nn.init.normal_(linear.weight, std=std)
            nn.init.zeros_(linear.bias)
        layers += [linear, act()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, 2))


def measured(model):
    torch.manual_seed(1)
    m = Measurements()
    measure_architecture(model, torch.randn(64, 20), None, m)
    return m


def test_deep_tanh_with_std_001_collapses():
    torch.manual_seed(0)
    [finding] = InitScaleMismatch().check(measured(mlp(20, nn.Tanh, std=0.01)))
    assert (finding.rule, finding.severity) == ("init-scale-mismatch", "warning")
    assert finding.evidence["rms_ratio"] < 1e-10 and finding.evidence["layers"] == 19
    assert "xavier" in finding.fixes[0]


def test_std_1_weights_blow_up_relu_and_saturate_tanh():
    torch.manual_seed(0)
    [relu] = InitScaleMismatch().check(measured(mlp(6, nn.ReLU, std=1.0)))
    assert relu.evidence["rms_ratio"] > 100 and "kaiming" in relu.fixes[0]
    [tanh] = InitScaleMismatch().check(measured(mlp(6, nn.Tanh, std=1.0)))
    assert tanh.evidence["saturated_layers"] >= 2 and tanh.evidence["saturated_fraction_max"] > 0.5


def test_default_init_and_he_init_are_healthy():
    for depth in (4, 5, 6):
        for width in (32, 256):
            torch.manual_seed(depth)
            assert InitScaleMismatch().check(measured(mlp(depth, width=width))) == [], (depth, width)
    torch.manual_seed(0)
    he = mlp(10)
    for module in he:
        if isinstance(module, nn.Linear):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    assert InitScaleMismatch().check(measured(he)) == []


def test_too_few_layers_are_not_judged():
    torch.manual_seed(0)
    assert InitScaleMismatch().check(measured(mlp(3, nn.Tanh, std=0.01))) == []


def test_threshold_on_rms_ratio():
    layers = [{"name": str(i), "kind": "Linear", "rms": rms, "activation": "relu", "saturated_fraction": None}
              for i, rms in enumerate([1.0, 0.3, 0.1, 0.0101, 5.0])]
    m = {"layer_activation_rms": layers}
    assert InitScaleMismatch().check(m) == []  # ratio 0.0101, the output layer is ignored
    layers[3]["rms"] = 0.0099
    [finding] = InitScaleMismatch().check(m)
    assert finding.evidence["rms_ratio"] == 0.0099


def test_raw_pixel_inputs_put_input_normalization_first():
    torch.manual_seed(0)
    layers, channels = [], 3
    for out in (16, 16, 32, 32, 64, 64, 64, 64):
        layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU()]
        channels = out
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    m = Measurements()
    measure_architecture(model, torch.randint(0, 256, (4, 3, 8, 8)).float(), None, m)
    [finding] = InitScaleMismatch().check(m)
    assert finding.evidence["input_rms"] > 100
    assert finding.fixes[0].startswith("Normalize the inputs first")
    assert "the inputs themselves have RMS" in finding.message


def test_tiny_weights_with_default_biases_lose_the_input_signal():
    torch.manual_seed(0)
    model = mlp(12, nn.Tanh)
    for module in model:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=0.01)  # the biases keep PyTorch's default
    [finding] = InitScaleMismatch().check(measured(model))
    assert finding.evidence["signal_ratio"] < 1e-6
    assert "rms_ratio" not in finding.evidence  # the RMS alone stays flat: the biases hold it up
    assert "output their biases" in finding.message


def test_threshold_on_signal_ratio():
    layers = [{"name": str(i), "kind": "Linear", "rms": 0.1, "signal_rms": signal, "activation": "tanh",
               "saturated_fraction": 0.0} for i, signal in enumerate([1.0, 1e-2, 1.01e-4, 5.0])]
    m = {"layer_activation_rms": layers}
    assert InitScaleMismatch().check(m) == []
    layers[2]["signal_rms"] = 0.99e-4
    [finding] = InitScaleMismatch().check(m)
    assert finding.evidence["signal_ratio"] == 0.99e-4
