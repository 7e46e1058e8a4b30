import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.sigmoid_hidden_activation import SigmoidHiddenActivation
from nndoctor.torch.architecture import measure_architecture


def measured(model, inputs):
    m = Measurements()
    measure_architecture(model, inputs, None, m)
    return m


class FunctionalSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(torch.sigmoid(self.conv(x)) * 2 - 1)  # rescaled, still a hidden sigmoid


class Gates(nn.Module):
    """Squeeze-excitation gate, sigmoid attention weights applied to values, GLU and SiLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.squeeze = nn.Linear(8, 8)
        self.glu = nn.Linear(8, 16)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        features = self.conv(x)
        weights = torch.sigmoid(self.squeeze(features.mean((2, 3))))
        features = features * weights[:, :, None, None]
        pooled = nn.functional.silu(features.mean((2, 3)))
        scores = torch.sigmoid(pooled @ pooled.T)
        mixed = scores @ pooled
        return torch.sigmoid(self.head(nn.functional.glu(self.glu(mixed))))


def test_nn_sigmoid_between_linear_layers_warns():
    model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Sigmoid(), nn.Linear(16, 1))
    [finding] = SigmoidHiddenActivation().check(measured(model, torch.randn(4, 8)))
    assert (finding.rule, finding.severity) == ("sigmoid-hidden-activation", "warning")
    assert finding.evidence["hidden_sigmoids"] == 2 and finding.evidence["via"] == ["nn.Sigmoid"]
    assert finding.where == ["1 (Sigmoid)", "3 (Sigmoid)"]


def test_functional_sigmoid_feeding_a_convolution_warns():
    [finding] = SigmoidHiddenActivation().check(measured(FunctionalSigmoid(), torch.randn(2, 3, 8, 8)))
    assert finding.evidence["via"] == ["torch.sigmoid"]


def test_gates_outputs_and_lstm_are_healthy():
    m = measured(Gates(), torch.randn(4, 3, 8, 8))
    assert SigmoidHiddenActivation().check(m) == []
    assert sorted(use["role"] for use in m["sigmoid_uses"]) == ["gate", "gate", "output"]
    lstm = nn.Sequential(nn.LSTM(4, 8))
    assert SigmoidHiddenActivation().check(measured(lstm, torch.randn(5, 2, 4))) == []
    binary = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    assert SigmoidHiddenActivation().check(measured(binary, torch.randn(4, 8))) == []


def test_threshold_on_hidden_sigmoid_count():
    model = nn.Sequential(nn.Linear(8, 16), nn.Sigmoid(), nn.Linear(16, 1))
    m = measured(model, torch.randn(4, 8))
    assert SigmoidHiddenActivation().check(m, hidden_sigmoids_max=1) == []
    assert len(SigmoidHiddenActivation().check(m, hidden_sigmoids_max=0)) == 1


class HandWrittenLSTMCell(nn.Module):
    """Gates computed by hand: every sigmoid multiplies another tensor, none is hidden."""

    def __init__(self, size=8):
        super().__init__()
        self.gates = nn.Linear(2 * size, 4 * size)
        self.head = nn.Linear(size, 1)
        self.size = size

    def forward(self, x):
        h = c = torch.zeros(x.shape[1], self.size)
        for step in x:
            i, f, g, o = self.gates(torch.cat([step, h], 1)).chunk(4, 1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        return self.head(h)


def test_hand_written_lstm_gates_are_not_hidden_activations():
    m = measured(HandWrittenLSTMCell(), torch.randn(5, 3, 8))
    assert SigmoidHiddenActivation().check(m) == []
    assert {use["role"] for use in m["sigmoid_uses"]} == {"gate"}
