from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class SigmoidHiddenActivation(Rule):
    """A sigmoid is used as the activation of a hidden layer.

    What it detects:
        A sigmoid (`nn.Sigmoid`, `torch.sigmoid`, `F.sigmoid`) whose output is fed to a
        weight layer (Linear, convolution, RNN, attention): a hidden activation. Sigmoids
        that gate another tensor (`x * torch.sigmoid(g)`, GLU- or attention-style gates),
        the gates inside nn.LSTM/nn.GRU, and a sigmoid producing the model's output are fine.

    Why it matters:
        The sigmoid's slope is at most 0.25 and its output is never centered on zero, so
        gradients shrink at every sigmoid layer and the next layer's inputs are all
        positive, which slows and biases learning. The debugging checklist says: replace
        every sigmoid by tanh unless the output must lie in [0, 1]; keep sigmoids for LSTM
        gates and the last layer of a binary classifier (003 §4.5.3 #15).

    Likely causes:
        - An older tutorial or textbook network that uses sigmoid hidden units.
        - `nn.Sigmoid()` used where `nn.ReLU()` or `nn.Tanh()` was meant.

    Fixes:
        - Replace the hidden `nn.Sigmoid()` by `nn.Tanh()` (or `nn.ReLU()` / `nn.LeakyReLU()`).
        - Re-initialize the layer before it for the new activation: `nn.init.xavier_uniform_` for tanh, `nn.init.kaiming_normal_(w, nonlinearity="relu")` for ReLU.
        - Keep a sigmoid only on the output of a binary classifier (or better: output logits and use `nn.BCEWithLogitsLoss`).

    Example:
        sigmoid-hidden-activation: 2 sigmoid(s) are used as hidden activations (their
        output feeds a weight layer), first '1 (Sigmoid)' (threshold: more than 0).
    """

    id = "sigmoid-hidden-activation"
    title = "sigmoid as a hidden activation"
    severity = "warning"
    area = "architecture"
    requires = ("sigmoid_uses",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        hidden_sigmoids_max: int = 0,  # sigmoids belong only to gates and binary outputs (003 §4.5.3 #15)
    ) -> list[Finding]:
        hidden = [use for use in m["sigmoid_uses"] if use["role"] == "hidden"]
        if len(hidden) <= hidden_sigmoids_max:
            return []
        places = list(dict.fromkeys(use["where"] for use in hidden))
        return [self.finding(
            f"{len(hidden)} sigmoid(s) are used as hidden activations (their output feeds a weight layer), "
            f"first '{places[0]}' (threshold: more than {hidden_sigmoids_max}).",
            where=places[:8],
            evidence={"hidden_sigmoids": len(hidden), "via": sorted({use["via"] for use in hidden}),
                      "gating_sigmoids": sum(use["role"] == "gate" for use in m["sigmoid_uses"]),
                      "output_sigmoids": sum(use["role"] == "output" for use in m["sigmoid_uses"])},
        )]
