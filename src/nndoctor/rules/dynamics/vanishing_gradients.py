from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import times
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points, median, recent_values, rounded


def _first_step_below(m: Mapping[str, Any], weak: str, strong: str, floor: float) -> int | None:
    """Earliest kept sampled step at which `weak` was already below `floor` x `strong`."""
    def ratios(name: str) -> dict[int, float]:
        sizes = dict(all_points(m["weight_norm_per_layer"][name]))
        return {s: g / sizes[s] for s, g in all_points(m["grad_norm_per_layer"][name]) if sizes.get(s)}
    weak_ratios, strong_ratios = ratios(weak), ratios(strong)
    for step in sorted(set(weak_ratios) & set(strong_ratios)):
        if strong_ratios[step] > 0 and weak_ratios[step] <= floor * strong_ratios[step]:
            return step
    return None


# The query and key projections of attention get a gradient proportional to how much the
# attention scores vary; with the usual small initialisation the scores start near zero
# (uniform attention), so these gradients start ~1e-5 of the others in a healthy BERT/GPT
# and grow once attention forms. That is no evidence of vanishing through depth.
_QUERY_KEY_NAMES = re.compile(r"(^|[._])(query|key|q_proj|k_proj|q_lin|k_lin|wq|wk|to_q|to_k|q|k)([._]|$)")


def is_attention_query_or_key(name: str) -> bool:
    return bool(_QUERY_KEY_NAMES.search(name.lower()))


@register
class VanishingGradients(Rule):
    """Gradients reaching the early layers are orders of magnitude smaller than at the end.

    What it detects:
        Per weight matrix, the gradient L2 norm relative to the weight's own norm
        (‖g‖/‖w‖, the median over recent sampled steps; 000 §3.2 per-layer L2 norm). It
        fires when an earlier layer's value is below `relative_floor` times the largest
        value of any later layer: the signal fades on its way back through the network.
        Biases, normalisation and embedding parameters are not compared (their gradients
        are naturally of another scale or sparse).

    Why it matters:
        Each weight moves in proportion to its gradient. Layers whose gradient is 10^4
        times weaker than the output layer's do not learn in any useful time: the
        network behaves like its last few layers on top of fixed random features.

    Likely causes:
        - Saturating activations (sigmoid, tanh) stacked deep: each layer multiplies the gradient by at most 0.25 (sigmoid).
        - Initialisation too small for the depth, or not matched to the activation.
        - A deep plain network without normalisation or residual connections.
        - A transformer (or any Adam-trained attention model) started at its peak lr without warm-up: the first large steps saturate the softmax/LayerNorm and the gradient below the head collapses.

    Fixes:
        - Use ReLU-family activations (`nn.ReLU`, `nn.LeakyReLU`, `nn.GELU`) in hidden layers; keep sigmoid for gates and binary outputs (003 §4.5.3 #15).
        - Initialise for the activation: `nn.init.kaiming_normal_(w, nonlinearity="relu")` for ReLU, `nn.init.xavier_uniform_` for tanh (003 §4.2).
        - Add `nn.BatchNorm1d`/`nn.LayerNorm` between layers, or residual connections (`x = x + block(x)`).
        - For transformers: warm the lr up over the first ~10 % of an epoch (`torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.05, total_iters=N)`), or lower the peak lr; `nndoctor run --try-fixes` tries both.

    Example:
        vanishing-gradients: the gradient of '0.weight' is 1.9e-05x that of '10.weight'
        relative to weight size (threshold 1e-04x).
    """

    id = "vanishing-gradients"
    title = "Vanishing gradients"
    severity = "warning"
    area = "dynamics"
    requires = ("grad_norm_per_layer", "weight_norm_per_layer", "parameter_kinds")

    def check(
        self,
        m: Mapping[str, Any],
        *,
        relative_floor: float = 1e-4,  # healthy MLP/CNN/LSTM/transformer stay within ~1e-2 of each other; a 6-deep sigmoid net reaches 2e-5
        min_points: int = 3,  # sampled steps per layer before judging
    ) -> list[Finding]:
        kinds = m["parameter_kinds"]
        weights = m["weight_norm_per_layer"]
        layers = []
        for name, series in m["grad_norm_per_layer"].items():
            info = kinds.get(name) or {}
            if info.get("kind") != "weight" or name not in weights:
                continue
            grads, sizes = recent_values(series), recent_values(weights[name])
            if len(grads) < min_points or not sizes or median(sizes) <= 0:
                continue
            layers.append((info.get("order", 0), name, median(grads) / median(sizes), series))
        if len(layers) < 2:
            return []
        layers.sort()
        strongest = max(layers, key=lambda layer: layer[2])
        if strongest[2] <= 0:
            return []
        faded = [layer for layer in layers if layer[0] < strongest[0] and layer[2] <= relative_floor * strongest[2]
                 and not is_attention_query_or_key(layer[1])]
        if not faded:
            return []
        weakest = min(faded, key=lambda layer: layer[2])
        share = weakest[2] / strongest[2]
        first_step = _first_step_below(m, weakest[1], strongest[1], relative_floor)
        if share == 0:  # exactly zero: something between them passes no gradient at all (a saturated tanh, a detach)
            said = (f"'{weakest[1]}' receives exactly zero gradient while '{strongest[1]}' learns "
                    f"(threshold {times(relative_floor)} of it); {len(faded)} earlier layer(s) get no gradient at all.")
        else:
            said = (f"relative to weight size, the gradient of '{weakest[1]}' is {times(share, 2)} that of "
                    f"'{strongest[1]}' (threshold {times(relative_floor)}); {len(faded)} earlier layer(s) barely learn.")
        return [self.finding(
            said,
            step=first_step,
            where=[layer[1] for layer in faded],
            evidence={
                "grad_to_weight": {layer[1]: rounded(layer[2]) for layer in layers},
                "weakest_layer": weakest[1], "strongest_layer": strongest[1], "ratio": rounded(share),
            },
        )]
