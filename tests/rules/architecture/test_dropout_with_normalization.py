import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.dropout_with_normalization import DropoutWithNormalization
from nndoctor.torch.architecture import measure_architecture


def measured(model, batch=16):
    m = Measurements()
    measure_architecture(model, torch.randn(batch, 8), None, m)
    return m


def test_dropout_feeding_batchnorm_is_a_warning():
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.Linear(16, 16), nn.BatchNorm1d(16), nn.ReLU(),
                          nn.Linear(16, 2))
    [finding] = DropoutWithNormalization().check(measured(model))
    assert (finding.rule, finding.severity) == ("dropout-with-normalization", "warning")
    assert finding.evidence["dropout_p_max"] == 0.3
    assert finding.evidence["batchnorm_after_dropout"] == ["3 (BatchNorm1d)"]


def test_dropout_after_the_last_batchnorm_or_with_layernorm_is_only_a_note():
    head_dropout = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    [finding] = DropoutWithNormalization().check(measured(head_dropout))
    assert finding.severity == "info"
    layer_norm = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.LayerNorm(16), nn.Linear(16, 2))
    [finding] = DropoutWithNormalization().check(measured(layer_norm))
    assert finding.severity == "info" and finding.evidence["normalization_kinds"] == ["layer"]


def test_layernorm_only_model_says_layer_normalization():
    layer_norm = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.1), nn.LayerNorm(16), nn.Linear(16, 2))
    [finding] = DropoutWithNormalization().check(measured(layer_norm))
    text = " ".join([finding.message, *finding.causes, *finding.fixes])
    assert "layer normalization" in finding.message and "batch norm" not in text.lower()


def test_head_dropout_is_not_described_as_feeding_batchnorm():
    head_dropout = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    [finding] = DropoutWithNormalization().check(measured(head_dropout))
    assert finding.evidence["dropout_in_head"] is True and "in the head" in finding.message
    assert not any("Dropout → Conv" in cause for cause in finding.causes)


def test_no_finding_without_dropout_or_without_normalization():
    assert DropoutWithNormalization().check(measured(nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16)))) == []
    assert DropoutWithNormalization().check(measured(nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5)))) == []
    zero = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.0), nn.BatchNorm1d(16))
    assert DropoutWithNormalization().check(measured(zero)) == []


def test_eval_mode_dropout_inside_a_training_model_is_ignored():
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.BatchNorm1d(16))
    model[1].eval()
    assert DropoutWithNormalization().check(measured(model)) == []


def test_threshold_on_dropout_probability():
    m = measured(nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.2), nn.BatchNorm1d(16)))
    assert DropoutWithNormalization().check(m, dropout_p_min=0.2) == []
    assert len(DropoutWithNormalization().check(m, dropout_p_min=0.19)) == 1


class TwoTowers(nn.Module):
    """Dropout in one tower, BatchNorm in the other: they never meet before the head."""

    def __init__(self):
        super().__init__()
        self.text = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3))
        self.image = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        text = self.text(x)  # runs first
        return self.head(torch.cat([text, self.image(x)], 1))


class WideBlock(nn.Module):
    """Wide-ResNet style: conv → BN → ReLU → dropout → conv, plus the residual path."""

    def __init__(self, channels=8):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(channels), nn.Conv2d(channels, channels, 3, padding=1)
        self.drop = nn.Dropout(0.3)
        self.bn2, self.conv2 = nn.BatchNorm2d(channels), nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        out = self.conv1(torch.relu(self.bn1(x)))
        out = self.conv2(torch.relu(self.bn2(self.drop(out))))
        return x + out


def test_dropout_in_an_unconnected_branch_is_only_a_note():
    [finding] = DropoutWithNormalization().check(measured(TwoTowers()))
    assert finding.severity == "info"


def test_dropout_reaching_batchnorm_through_a_residual_stack_warns():
    m = Measurements()
    measure_architecture(nn.Sequential(WideBlock(), WideBlock()), torch.randn(4, 8, 6, 6), None, m)
    [finding] = DropoutWithNormalization().check(m)
    assert finding.severity == "warning"
    assert finding.evidence["batchnorm_after_dropout"] == ["0.bn2 (BatchNorm2d)", "1.bn1 (BatchNorm2d)",
                                                           "1.bn2 (BatchNorm2d)"]
