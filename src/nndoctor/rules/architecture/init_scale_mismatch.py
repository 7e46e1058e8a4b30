from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule

RELU_FAMILY = {"relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "prelu", "rrelu"}
SQUASHING = {"tanh", "sigmoid", "hardtanh", "softsign"}


@register
class InitScaleMismatch(Rule):
    """At initialization the activations shrink, grow or saturate from layer to layer.

    What it detects:
        On the real batch, before any training, the RMS of each weight layer's output is
        measured in execution order (the output layer is left out). The rule fires when
        the last hidden layer's RMS is more than 100× smaller or larger than the first's,
        when the spread of the activations across samples (the part that carries the
        input) shrinks 10,000× so that deep layers only output their biases, or when most
        units of several tanh/sigmoid layers already sit in the flat part of the curve.

    Why it matters:
        Weights are initialized so that activations keep roughly unit variance through
        the layers; otherwise the gradients are multiplied through the same too-small or
        too-large factors and vanish or explode on the way back, and deep networks stop
        learning. He (Kaiming) initialization suits ReLU layers, Xavier initialization
        suits tanh/sigmoid layers (003 §4.2).

    Likely causes:
        - A hand-written initialization with a fixed standard deviation (`normal_(std=0.01)`, `std=1`) that ignores the layer width.
        - Xavier initialization with ReLU layers, or He initialization with tanh layers, in a deep network.
        - A deep stack without normalization layers or residual connections.
        - Unnormalized inputs (raw pixels 0–255, raw units) that give the first layers a huge scale.

    Fixes:
        - For ReLU-family layers: `nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")` and `nn.init.zeros_(layer.bias)`.
        - For tanh/sigmoid layers: `nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))`.
        - In deep stacks, add normalization (`nn.LayerNorm`, `nn.BatchNorm1d`) or residual connections between the layers.
        - Standardize the inputs (zero mean, unit variance per feature; pixels / 255) so that the first layer starts at a sensible scale.

    Example:
        init-scale-mismatch: activation RMS falls from 0.046 at layer '0' (Linear) to
        1.6e-20 at '36' across 19 layers (ratio 3.5e-19, limits 0.01–100).
    """

    id = "init-scale-mismatch"
    title = "activation scale collapses or explodes at init"
    severity = "warning"
    area = "architecture"
    requires = ("layer_activation_rms",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        layers_min: int = 3,  # a trend needs a few layers; two are one step of noise
        rms_ratio_low: float = 1e-2,  # 100× shrinkage: default PyTorch init stays ≥ 0.05 on ReLU MLPs
        rms_ratio_high: float = 1e2,  # 100× growth: std=1 weights on 64-wide ReLU layers grow ~5× a layer
        signal_ratio_low: float = 1e-4,  # the samples' spread 10^4× smaller: outputs are the biases
        saturated_fraction_high: float = 0.5,  # half the tanh/sigmoid units with slope < 1% (003 §4.2)
        saturated_layers_min: int = 2,  # hidden layers (after the first) that must be saturated
        input_rms_low: float = 0.1,  # outside 0.1–10 the inputs, not only the init, set the scale
        input_rms_high: float = 10.0,
    ) -> list[Finding]:
        layers = m["layer_activation_rms"][:-1]  # the output layer's scale is the task's, not init's
        if len(layers) < layers_min:
            return []
        activations = {layer["activation"] for layer in layers if layer["activation"]}
        first, last = layers[0], layers[-1]
        evidence = {"layers": len(layers), "first_layer": first["name"], "last_layer": last["name"],
                    "rms_first": first["rms"], "rms_last": last["rms"],
                    "rms_by_depth": _thin([layer["rms"] for layer in layers]), "activations": sorted(activations)}
        fixes = _fixes(self, activations)
        input_rms, note = first.get("input_rms"), "."
        if input_rms is not None and not input_rms_low <= input_rms <= input_rms_high:
            evidence["input_rms"], note = input_rms, f"; the inputs themselves have RMS {num(input_rms)}."
            fixes = [f"Normalize the inputs first: they have RMS {num(input_rms)}, far from 1 "
                     "(standardize features, divide pixels by 255), then re-check.", *fixes]
        span = f"at layer '{first['name']}' ({first['kind']}) to"
        ratio = _ratio(last["rms"], first["rms"])
        if ratio is not None and not rms_ratio_low <= ratio <= rms_ratio_high:
            verb = "falls" if ratio < rms_ratio_low else "grows"
            return [self.finding(
                f"activation RMS {verb} from {num(first['rms'], 2)} {span} {num(last['rms'], 2)} at '{last['name']}' "
                f"across {len(layers)} layers (ratio {num(ratio, 2)}, limits {num(rms_ratio_low)}–{num(rms_ratio_high)}){note}",
                where=[first["name"], last["name"]], evidence={**evidence, "rms_ratio": ratio}, fixes=fixes,
            )]
        signal = _ratio(last.get("signal_rms"), first.get("signal_rms"))
        if signal is not None and signal < signal_ratio_low:
            return [self.finding(
                f"the spread of activations across samples falls from {num(first['signal_rms'], 2)} {span} "
                f"{num(last['signal_rms'], 2)} at '{last['name']}' (ratio {num(signal, 2)}, threshold {num(signal_ratio_low)}): "
                f"deep layers output their biases, not information about the input{note}",
                where=[first["name"], last["name"]], evidence={**evidence, "signal_ratio": signal}, fixes=fixes,
            )]
        saturated = [layer for layer in layers[1:] if (layer["saturated_fraction"] or 0.0) >= saturated_fraction_high]
        if len(saturated) >= saturated_layers_min:
            worst = max(layer["saturated_fraction"] for layer in saturated)
            return [self.finding(
                f"{len(saturated)} hidden layers start saturated: up to {percent(worst, 0)} of their "
                f"{saturated[0]['activation']} units are in the flat part of the curve "
                f"(threshold {percent(saturated_fraction_high, 0)} in {saturated_layers_min} layers).",
                where=[layer["name"] for layer in saturated][:8],
                evidence={**evidence, "saturated_layers": len(saturated), "saturated_fraction_max": worst},
                fixes=fixes,
            )]
        return []


def _ratio(last: float | None, first: float | None) -> float | None:
    if last is None or first is None or not first > 0 or not math.isfinite(first):
        return None
    return last / first


def _fixes(rule: Rule, activations: set[str]) -> list[str]:
    """The docstring's fixes, with the initialization that suits these activations first."""
    he, xavier, *general = rule.doc().fixes
    if activations & SQUASHING and not activations & RELU_FAMILY:
        return [xavier, *general]
    if activations & RELU_FAMILY and not activations & SQUASHING:
        return [he, *general]
    return [he, xavier, *general]


def _thin(series: list[float], keep: int = 8) -> list[float]:
    """At most `keep` values, evenly spaced, always including the first and last."""
    if len(series) <= keep:
        return series
    step = (len(series) - 1) / (keep - 1)
    return [series[round(i * step)] for i in range(keep)]
