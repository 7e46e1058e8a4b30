from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class LstmForgetBias(Rule):
    """The LSTM forget-gate bias starts near 0 instead of 1.

    What it detects:
        For every nn.LSTM layer (and nn.LSTMCell), the mean of the forget-gate slice of
        `bias_ih + bias_hh` (PyTorch gate order: input, forget, cell, output). PyTorch's
        default initialization leaves it near 0.

    Why it matters:
        A forget gate with bias 0 starts half-closed (sigmoid(0) = 0.5), so the cell
        state forgets half its memory at every time step and gradients through time
        fade quickly; the model needs extra training before it learns to remember. The
        standard advice is to start the forget-gate bias at 1 (003 §4.2). It is a tip, not a
        bug: many LSTMs train fine with the default.

    Likely causes:
        - PyTorch's default LSTM initialization, which treats all four gates alike.

    Fixes:
        - After building the model, for each layer k: `H = lstm.hidden_size; with torch.no_grad(): lstm.bias_ih_l0[H:2*H].fill_(1.0); lstm.bias_hh_l0[H:2*H].zero_()` (use `_l1`, `_l0_reverse`… for the other layers).
        - The same source also suggests input and output gate biases of -1 (slices 0:H and 3H:4H) to start with a quiet cell.

    Example:
        lstm-forget-bias: the forget-gate bias of 2 LSTM layer(s) ('lstm' l0) averages
        0.02, below 0.5 (recommended: 1).
    """

    id = "lstm-forget-bias"
    title = "LSTM forget-gate bias not initialized to 1"
    severity = "info"
    area = "architecture"
    requires = ("lstm_forget_biases",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        forget_bias_min: float = 0.5,  # halfway between PyTorch's default 0 and the recommended 1 (003 §4.2)
    ) -> list[Finding]:
        low = [layer for layer in m["lstm_forget_biases"] if layer["forget_bias_mean"] < forget_bias_min]
        if not low:
            return []
        first = low[0]
        places = [f"{layer['name']} {layer['weights']}" for layer in low]
        return [self.finding(
            f"the forget-gate bias of {len(low)} LSTM layer(s) ('{first['name']}' {first['weights']}) "
            f"averages {num(first['forget_bias_mean'], 2)}, below {num(forget_bias_min)} (recommended: 1).",
            where=places[:8],
            evidence={"layers": len(low), "forget_bias_means": [layer["forget_bias_mean"] for layer in low][:8],
                      "hidden_size": first["hidden_size"], "threshold": forget_bias_min},
        )]
