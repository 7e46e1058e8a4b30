"""measure_architecture on real tiny models: what it measures, and that it leaves the model alone."""
import random

import numpy
import torch
from torch import nn

from nndoctor.core.engine import run_rules
from nndoctor.core.registry import load_rules
from nndoctor.core.rule import Measurements
from nndoctor.torch.architecture import measure_architecture

ARCHITECTURE_RULES = [rule for rule in load_rules() if rule.area == "architecture"]


class LSTMClassifier(nn.Module):
    def __init__(self, vocab=50, classes=4):
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, classes)

    def forward(self, tokens):
        _, (hidden, _) = self.lstm(self.embed(tokens))
        return self.head(hidden[-1])


class TransformerClassifier(nn.Module):
    def __init__(self, vocab=50, classes=3):
        super().__init__()
        self.embed = nn.Embedding(vocab, 32)
        layer = nn.TransformerEncoderLayer(32, 4, 64, batch_first=True)  # default dropout 0.1
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(32, classes)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class GatedBinary(nn.Module):
    """Gates (x * sigmoid(g)), SiLU and a sigmoid output: none is a hidden sigmoid."""

    def __init__(self):
        super().__init__()
        self.value, self.gate = nn.Linear(8, 16), nn.Linear(8, 16)
        self.hidden = nn.Linear(16, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        gated = self.value(x) * torch.sigmoid(self.gate(x))
        return torch.sigmoid(self.out(nn.functional.silu(self.hidden(gated)))).squeeze(-1)


def mlp(depth=4, width=64, d_in=20, d_out=3, act=nn.ReLU):
    layers, size = [], d_in
    for _ in range(depth - 1):
        layers += [nn.Linear(size, width), act()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, d_out))


def cnn(classes=10):
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(32, classes),
    )


def measure(model, inputs, targets, **options):
    m = Measurements()
    measure_architecture(model, inputs, targets, m, **options)
    return m


def judge(model, inputs, targets, **options):
    return run_rules(measure(model, inputs, targets, **options), ARCHITECTURE_RULES, command="test")


HEALTHY = {
    "mlp-classifier": lambda: (mlp(), torch.randn(64, 20), torch.randint(0, 3, (64,))),
    "mlp-regressor": lambda: (mlp(d_out=1), torch.randn(64, 20), torch.randn(64, 1)),
    "deep-mlp-6": lambda: (mlp(depth=6, width=256), torch.randn(64, 20), torch.randint(0, 3, (64,))),
    "cnn": lambda: (cnn(), torch.randn(32, 3, 16, 16), torch.randint(0, 10, (32,))),
    "lstm": lambda: (LSTMClassifier(), torch.randint(0, 50, (32, 12)), torch.randint(0, 4, (32,))),
    "transformer": lambda: (TransformerClassifier(), torch.randint(0, 50, (32, 12)), torch.randint(0, 3, (32,))),
    "gated-binary": lambda: (GatedBinary(), torch.randn(64, 8), (torch.rand(64) < 0.5).float()),
    "cnn-regressor": lambda: (cnn(classes=1), torch.randn(32, 3, 16, 16), torch.randn(32, 1)),
    "lstm-regressor": lambda: (LSTMClassifier(classes=1), torch.randint(0, 50, (32, 12)), torch.randn(32, 1)),
    "transformer-regressor": lambda: (TransformerClassifier(classes=2), torch.randint(0, 50, (32, 12)),
                                      torch.randn(32, 2)),
}


def test_healthy_standard_models_get_no_warnings():
    for name, build in HEALTHY.items():
        torch.manual_seed(0)
        report = judge(*build())
        worse_than_info = [(f.rule, f.message) for f in report.findings if f.severity != "info"]
        assert worse_than_info == [], name
        assert len(report.checks_run) == len(ARCHITECTURE_RULES), (name, report.checks_skipped)


def test_default_lstm_forget_bias_is_only_a_note():
    torch.manual_seed(0)
    report = judge(*HEALTHY["lstm"]())
    assert [(f.rule, f.severity) for f in report.findings] == [("lstm-forget-bias", "info")]


def _state(model):
    return (
        {k: v.clone() for k, v in model.state_dict(keep_vars=False).items()},
        [(n, p.requires_grad, None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()],
        [(n, mod.training) for n, mod in model.named_modules()],
        len(model._forward_hooks) + sum(len(mod._forward_hooks) + len(mod._forward_pre_hooks) for mod in model.modules()),
    )


def _same(before, after):
    state_a, params_a, modes_a, hooks_a = before
    state_b, params_b, modes_b, hooks_b = after
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), key
    for (n, rg, g), (n2, rg2, g2) in zip(params_a, params_b):
        assert (n, rg) == (n2, rg2)
        assert (g is None and g2 is None) or torch.equal(g, g2), n
    assert modes_a == modes_b
    assert hooks_a == hooks_b


def test_model_batch_and_rng_are_left_bit_identical():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    model[4].eval()  # a mixed-mode model must keep its per-module flags
    model(torch.randn(4, 8)).sum().backward()  # existing gradients must survive untouched
    inputs, targets = torch.randn(16, 8), torch.randint(0, 2, (16,))
    inputs_before = inputs.clone()
    before = _state(model)
    rng_before = torch.get_rng_state()
    python_before, numpy_before = random.getstate(), numpy.random.get_state()[1].copy()
    m = measure(model, inputs, targets)
    assert m["batchnorm_layers"] and m["dropout_normalization"]["dropout"]  # it did run the forward
    assert torch.equal(torch.get_rng_state(), rng_before)
    assert random.getstate() == python_before and (numpy.random.get_state()[1] == numpy_before).all()
    assert torch.equal(inputs, inputs_before)
    _same(before, _state(model))


def test_eval_mode_model_stays_in_eval_mode_and_is_measured_as_in_training():
    model = cnn().eval()
    m = measure(model, torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,)))
    assert all(not mod.training for mod in model.modules())
    assert [n["batch_size"] for n in m["batchnorm_layers"]] == [4, 4]


def test_in_place_forward_does_not_touch_the_users_batch():
    class InPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            return self.linear(x.relu_())

    inputs = torch.randn(8, 4)
    before = inputs.clone()
    measure(InPlace(), inputs, None)
    assert torch.equal(inputs, before)


def test_sigmoid_roles_hidden_gate_and_output():
    model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 1), nn.Sigmoid())
    roles = [use["role"] for use in measure(model, torch.randn(8, 8), None)["sigmoid_uses"]]
    assert roles == ["hidden", "output"]
    gated = measure(GatedBinary(), torch.randn(8, 8), None)["sigmoid_uses"]
    assert [use["role"] for use in gated] == ["gate", "output"]
    assert measure(LSTMClassifier(), torch.randint(0, 50, (4, 5)), None)["sigmoid_uses"] == []


def test_activation_rms_per_layer_in_execution_order():
    layers = measure(mlp(depth=4), torch.randn(32, 20), None)["layer_activation_rms"]
    assert [layer["name"] for layer in layers] == ["0", "2", "4", "6"]
    assert [layer["activation"] for layer in layers] == ["relu", "relu", "relu", None]
    assert all(layer["rms"] > 0 for layer in layers)


def test_output_layer_binary_multiclass_and_regression_targets():
    binary = measure(GatedBinary(), torch.randn(50, 8), (torch.arange(50) < 5).float())["output_layer"]
    assert binary["name"] == "out" and binary["final_activation"] == "sigmoid"
    assert binary["targets"] == {"kind": "binary", "n": 50, "positives": [5]}
    classes = measure(mlp(), torch.randn(6, 20), torch.tensor([0, 0, 0, 1, 1, 2]))["output_layer"]
    assert classes["targets"] == {"kind": "class_index", "counts": [3, 2, 1]} and len(classes["bias"]) == 3
    one_hot = torch.nn.functional.one_hot(torch.tensor([0, 0, 2]), 3).float()
    assert measure(mlp(), torch.randn(3, 20), one_hot)["output_layer"]["targets"]["counts"] == [2, 0, 1]
    regression = measure(mlp(d_out=1), torch.randn(8, 20), torch.full((8,), 100.0))["output_layer"]
    assert regression["targets"]["kind"] == "regression"
    assert regression["targets"]["target_mean"] == [100.0]


def test_lstm_forget_bias_slices_follow_gate_order():
    lstm = nn.LSTM(4, 8, num_layers=2, bidirectional=True)
    with torch.no_grad():
        for name, parameter in lstm.named_parameters():
            if name.startswith("bias"):
                parameter.zero_()
        lstm.bias_ih_l1_reverse[8:16].fill_(1.0)
        lstm.bias_ih_l1_reverse[0:8].fill_(5.0)  # the input gate must not leak into the forget slice
    found = measure(lstm, torch.randn(3, 2, 4), None)["lstm_forget_biases"]
    assert [(f["weights"], f["forget_bias_mean"]) for f in found] == [
        ("l0", 0.0), ("l0_reverse", 0.0), ("l1", 0.0), ("l1_reverse", 1.0)]


def test_precision_and_autocast_are_recorded():
    m = measure(mlp().to(torch.bfloat16), torch.randn(4, 20, dtype=torch.bfloat16), None)
    assert m["parameter_dtypes"]["numel_by_dtype"] == {"bfloat16": sum(p.numel() for p in mlp().parameters())}

    class Autocasting(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.linear(x)

    assert measure(Autocasting(), torch.randn(4, 4), None)["autocast_active"] == ["cpu:bfloat16"]
    assert measure(mlp(), torch.randn(4, 20), None)["autocast_active"] == []


def test_forward_failure_marks_measurements_unavailable_not_internal_error():
    m = measure(mlp(), torch.randn(4, 7), None)  # wrong feature count
    assert "layer_activation_rms" in m.unavailable and "mat1 and mat2" in m.unavailable["layer_activation_rms"]
    assert "internal_faults" not in m
    assert "parameter_dtypes" in m  # the static facts are still there


def test_dict_and_tuple_inputs_are_unpacked():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(5, 3)

        def forward(self, left, right):
            return self.a(left) + self.b(right)

    assert measure(TwoInputs(), (torch.randn(2, 4), torch.randn(2, 5)), None)["layer_activation_rms"]
    assert measure(TwoInputs(), {"left": torch.randn(2, 4), "right": torch.randn(2, 5)}, None)["layer_activation_rms"]


def test_torchscript_model_is_reported_unavailable_with_a_reason():
    m = measure(torch.jit.script(mlp()), torch.randn(4, 20), None)
    assert "TorchScript" in m.unavailable["layer_activation_rms"]
    assert "internal_faults" not in m and "parameter_dtypes" in m


def test_lazy_layers_are_measured_without_touching_the_original():
    model = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.Linear(8, 2))
    m = measure(model, torch.randn(4, 5), None)
    assert [layer["name"] for layer in m["layer_activation_rms"]] == ["0", "2"]
    assert isinstance(model[0].weight, nn.parameter.UninitializedParameter)


def test_output_object_with_logits_is_followed_to_the_head():
    class Output:
        def __init__(self, logits):
            self.logits = logits

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.classifier = nn.Linear(20, 16), nn.Linear(16, 3)

        def forward(self, x):
            return Output(self.classifier(torch.relu(self.body(x))))

    layer = measure(Wrapped(), torch.randn(6, 20), torch.tensor([0, 0, 0, 1, 1, 2]))["output_layer"]
    assert layer["name"] == "classifier" and layer["targets"]["counts"] == [3, 2, 1]


def test_python_and_numpy_random_draws_in_forward_are_undone():
    class Jitter(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x):
            scale = 1.0 + 0.01 * random.random() + 0.01 * float(numpy.random.rand())
            return self.linear(x * scale) + 0 * torch.rand(1)

    random.seed(3)
    numpy.random.seed(3)
    expected = (random.random(), float(numpy.random.rand()))
    random.seed(3)
    numpy.random.seed(3)
    measure(Jitter(), torch.randn(2, 4), None)
    assert (random.random(), float(numpy.random.rand())) == expected


def test_namedtuple_inputs_are_passed_whole():
    from collections import namedtuple

    Pair = namedtuple("Pair", "left right")

    class TakesPair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(5, 3)

        def forward(self, pair):
            return self.a(pair.left) + self.b(pair.right)

    m = measure(TakesPair(), Pair(torch.randn(2, 4), torch.randn(2, 5)), None)
    assert [layer["name"] for layer in m["layer_activation_rms"]] == ["a", "b"]
