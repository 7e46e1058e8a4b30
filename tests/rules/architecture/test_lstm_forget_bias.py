import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.lstm_forget_bias import LstmForgetBias
from nndoctor.torch.architecture import measure_architecture


def measured(model):
    m = Measurements()
    measure_architecture(model, torch.randn(3, 2, 4), None, m)
    return m


def set_forget_bias(lstm, value):
    size = lstm.hidden_size
    with torch.no_grad():
        for name, parameter in lstm.named_parameters():
            if name.startswith("bias_ih"):
                parameter[size:2 * size].fill_(value)
            elif name.startswith("bias_hh"):
                parameter[size:2 * size].zero_()


def test_default_lstm_gets_a_note_not_a_warning():
    torch.manual_seed(0)
    [finding] = LstmForgetBias().check(measured(nn.LSTM(4, 8, num_layers=2)))
    assert (finding.rule, finding.severity) == ("lstm-forget-bias", "info")
    assert finding.evidence["layers"] == 2 and abs(finding.evidence["forget_bias_means"][0]) < 0.5


def test_forget_bias_of_one_and_other_recurrent_layers_are_healthy():
    lstm = nn.LSTM(4, 8, bidirectional=True)
    set_forget_bias(lstm, 1.0)
    assert LstmForgetBias().check(measured(lstm)) == []
    assert LstmForgetBias().check(measured(nn.GRU(4, 8))) == []


def test_lstm_cell_is_checked_too():
    cell = nn.LSTMCell(4, 8)
    m = Measurements()
    measure_architecture(cell, torch.randn(2, 4), None, m)
    [finding] = LstmForgetBias().check(m)
    assert finding.where == ["(model) cell"]


def test_threshold_on_forget_bias():
    lstm = nn.LSTM(4, 8)
    set_forget_bias(lstm, 0.5)
    assert LstmForgetBias().check(measured(lstm)) == []
    set_forget_bias(lstm, 0.49)
    assert len(LstmForgetBias().check(measured(lstm))) == 1
