from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class BatchMixing(Rule):
    """The output for one sample depends on the inputs of other samples in the batch.

    What it detects:
        With the model in eval mode (so BatchNorm uses running statistics), the gradient
        of sample i's output with respect to every input of the batch. Independent
        samples give exactly zero for all j ≠ i; a non-zero value means information flows
        between samples. Samples are on dim 0, unless the batch shows it is time-major
        (T, B, …) — targets shifted by one step along dim 0, or an RNN state of batch B
        passed in — as nn.LSTM and nn.Transformer expect without batch_first. When the
        targets are the inputs shifted by one step (next-token prediction, forecasting;
        flattened to (N·T,) or shifted inside the loss), the causal variant also checks
        that the output at a position does not depend on later input positions.

    Why it matters:
        The model can then use other samples — including their labels' correlates — to
        predict; training loss looks fine while predictions change with the batch they
        are in, and results at batch size 1 differ from training. Usually it is a
        dimension-order bug that also wrecks what the model learns.

    Likely causes:
        - A sequence model fed (N, T, …) while it expects (T, N, …): `nn.LSTM`, `nn.GRU`, `nn.MultiheadAttention` and `nn.TransformerEncoder` default to batch_first=False.
        - `view`/`reshape` used to swap dimensions (it reorders memory instead of transposing), mixing samples.
        - A normalisation or pooling over dim 0 written by hand (`x / x.sum(0)`, `x.mean(0, keepdim=True)`).
        - BatchNorm with `track_running_stats=False`, which uses batch statistics even in eval mode.

    Fixes:
        - Pass `batch_first=True` to `nn.LSTM(..., batch_first=True)` / `nn.TransformerEncoderLayer(..., batch_first=True)`, or feed (T, N, …).
        - Swap dimensions with `x.transpose(0, 1)` / `x.permute(...)`, never with `view`.
        - Reduce over feature dimensions (`dim=-1`), not over the batch.

    Example:
        batch-mixing: the output of sample 0 has a gradient of 0.21 with respect to sample
        7's input, 0.84× its gradient w.r.t. its own input (threshold 1e-6×).
    """

    id = "batch-mixing"
    title = "samples in a batch influence each other"
    severity = "error"
    area = "code"
    requires = ("batch_mixing",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        cross_gradient_ratio_max: float = 1e-6,  # independent samples give exactly 0: any clear non-zero is mixing
    ) -> list[Finding]:
        mixing = m["batch_mixing"]
        findings = []
        causal = mixing.get("causal")
        if causal and causal["ratio"] > cross_gradient_ratio_max:
            findings.append(self.finding(
                f"The targets are the inputs shifted by one step, yet the output at position {causal['position']} "
                f"depends on input position {causal['future_position']} (gradient {times(causal['ratio'])} that of "
                f"the positions it may see; threshold {times(cross_gradient_ratio_max)}): the model can read the answer.",
                where=[causal["position"], causal["future_position"]],
                evidence={"causal": causal},
                causes=["No causal mask in self-attention (`mask=nn.Transformer.generate_square_subsequent_mask(T)`, `is_causal=True`).",
                        "A bidirectional RNN (`bidirectional=True`) or a centred convolution used for next-step prediction.",
                        "Targets built from the wrong shift (inputs and targets both `ids[:, :-1]`)."],
                fixes=["Pass a causal mask to every attention layer: `encoder(x, mask=nn.Transformer.generate_square_subsequent_mask(T), is_causal=True)`.",
                       "Use unidirectional RNNs and left-padded (causal) convolutions for next-step prediction.",
                       "Check the shift: `inputs, targets = ids[:, :-1], ids[:, 1:]`."],
            ))
        worst = max(mixing["probes"], key=lambda p: p["ratio"], default=None)
        if worst is None or worst["ratio"] <= cross_gradient_ratio_max:
            return findings
        through = " (through the embedding outputs)" if mixing.get("input_kind") == "embedding" else ""
        if mixing.get("layout") == "time-major":
            through += " — the batch is time-major, so samples are the columns of dim 1"
        return findings + [self.finding(
            f"The output of sample {worst['output_sample']} has a gradient of {num(worst['largest_other_gradient'])} "
            f"with respect to sample {worst['other_sample']}'s input{through}, {times(worst['ratio'])} its gradient "
            f"with respect to its own input (threshold {times(cross_gradient_ratio_max)}).",
            where=[worst["output_sample"], worst["other_sample"]],
            evidence={"probes": mixing["probes"], "batch_size": mixing.get("batch_size"), "layout": mixing.get("layout")},
        )]
