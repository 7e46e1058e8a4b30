from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import median, rounded


def depth_growth(profile: Mapping[str, Any]) -> tuple[float, str, str] | None:
    """Largest RMS among the deepest third of the hidden layers over the median RMS of the
    shallowest third. The last layer (the model's output, e.g. logits, which legitimately
    grow as a classifier becomes confident) is left out."""
    layers, rms = list(profile["layers"])[:-1], list(profile["rms"])[:-1]
    if len(layers) < 2:
        return None
    third = max(1, len(layers) // 3)
    shallow = median(rms[:third])
    if shallow <= 0:
        return None
    deep_index = max(range(len(rms) - third, len(rms)), key=lambda i: rms[i])
    return rms[deep_index] / shallow, layers[0], layers[deep_index]


@register
class ActivationBlowup(Rule):
    """Activations grow layer after layer: deep layers output values 100x larger than early ones.

    What it detects:
        The root-mean-square of each parameterised layer's output, in forward order, on
        sampled steps. It fires when the deepest hidden layers' RMS exceeds
        `growth_factor` times that of the first layers, in most sampled steps (000 §3.3:
        activation blowup as networks get deeper). The model's final output layer is not
        judged (confident logits are large on purpose).

    Why it matters:
        Growing activations mean each layer amplifies its input: gradients grow the same
        way on the way back, training becomes unstable, and in float16 the values
        overflow to Inf.

    Likely causes:
        - Initialisation too large for the depth (e.g. `nn.init.normal_(w, std=1)`).
        - No normalisation in a deep stack; residual branches added without scaling.
        - Learning rate too high, inflating the weights.

    Fixes:
        - Initialise with `nn.init.kaiming_normal_` (ReLU) or `nn.init.xavier_uniform_` (tanh), which keep the variance constant across layers (003 §4.2).
        - Add `nn.BatchNorm2d`/`nn.LayerNorm` between blocks (000 §3.3).
        - Lower the learning rate; scale residual branches down at initialisation.

    Example:
        activation-blowup: the output RMS grows from 0.8 at 'fc1' to 2.4e+04 at 'fc5'
        (3e+04x; threshold 100x) in 4 of 4 sampled steps.
    """

    id = "activation-blowup"
    title = "Activations blow up with depth"
    severity = "warning"
    area = "dynamics"
    requires = ("activation_rms",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        growth_factor: float = 100.0,  # Kaiming/Xavier keep the RMS within a few x across depth; 100x is clearly amplifying
        min_share_of_steps: float = 0.5,  # most sampled steps, so one odd batch does not decide
    ) -> list[Finding]:
        profiles = m["activation_rms"]["profiles"]
        growths = [(p["step"], depth_growth(p)) for p in profiles]
        growths = [(step, g) for step, g in growths if g is not None]
        if not growths:
            return []
        bad = [(step, g) for step, g in growths if g[0] >= growth_factor]
        if len(bad) < max(1, min_share_of_steps * len(growths)):
            return []
        step, (growth, shallow, deep) = max(bad, key=lambda item: item[1][0])
        profile = next(p for p in profiles if p["step"] == step)
        return [self.finding(
            f"the output RMS grows {times(growth)} from '{shallow}' to '{deep}' (threshold "
            f"{times(growth_factor)}) in {len(bad)} of {len(growths)} sampled steps.",
            step=bad[0][0],
            where=deep,
            evidence={"growth": rounded(growth), "rms_by_depth": dict(zip(profile["layers"],
                      [rounded(v) for v in profile["rms"]])), "sampled_steps": len(growths)},
        )]
