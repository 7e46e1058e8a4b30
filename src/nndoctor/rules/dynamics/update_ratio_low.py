from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import history, quantile, rounded


@register
class UpdateRatioLow(Rule):
    """A layer's weights barely move: updates are a tiny fraction of the weight size.

    What it detects:
        Per trainable weight matrix, ‖w_after − w_before‖ / ‖w_before‖ per optimizer
        step over the whole run. It fires only when the layer *never* moved at a healthy
        speed: the 90th percentile over the run is below `ratio_low`, well under the
        healthy 1e-3..1e-2 band (Karpathy's ~1e-3; seed 001's ~1 % per minibatch). A
        learning-rate schedule decaying to zero at the end of training, warm-up, or a
        model that converged and now makes small steps do not fire, because the layer
        moved normally earlier. Frozen parameters (requires_grad=False), embeddings
        (sparse row updates) and layers whose weights never changed at all (see
        params-not-updated) are not judged.

    Why it matters:
        At a ratio of 1e-5 a layer needs on the order of 10^5 steps to change
        noticeably: the run spends its compute without learning.

    Likely causes:
        - Learning rate far too low (a typo such as 1e-6 instead of 1e-3, or a scheduler that starts at 0).
        - Gradients vanishing before they reach this layer (see vanishing-gradients).
        - Gradient clipping with a tiny max_norm.

    Fixes:
        - Raise the learning rate (try 10x steps: 1e-4, 1e-3, 1e-2; 003 §4.5.4) and check the scheduler's first values with `scheduler.get_last_lr()`.
        - Check `torch.nn.utils.clip_grad_norm_(..., max_norm)` uses a sensible max_norm (about 1.0).
        - If only early layers are slow, fix the gradient flow: Kaiming/Xavier init, normalisation, residuals.

    Example:
        update-ratio-low: 90% of 40 sampled updates changed 'fc1.weight' by at most 3.1e-06
        of its size (threshold 1e-05).
    """

    id = "update-ratio-low"
    title = "Updates too small to learn"
    severity = "warning"
    area = "dynamics"
    requires = ("update_ratio_per_layer",)
    optional = ('parameter_kinds',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        ratio_low: float = 1e-5,  # 10x below the bottom of the healthy band, whose low end is ~1e-4..1e-3 (Karpathy; 001)
        run_quantile: float = 0.9,  # "never healthy": even the run's faster updates stay below the threshold
        min_points: int = 10,  # sampled updates before judging a whole run
    ) -> list[Finding]:
        kinds = m.get("parameter_kinds") or {}
        low = []
        for name, series in m["update_ratio_per_layer"].items():
            if (kinds.get(name) or {}).get("kind", "weight") != "weight":
                continue
            if int(series.get("count", 0)) < min_points:
                continue
            means = [bucket[3] for bucket in history(series)]
            if not means or max(means) <= 0:
                continue  # exactly unchanged: params-not-updated reports that
            level = quantile(means, run_quantile)
            if level < ratio_low:
                low.append((level, name, int(series["count"]), int(series["head"][0][0])))
        if not low:
            return []
        low.sort()
        level, name, count, first = low[0]
        return [self.finding(
            f"{percent(run_quantile, 0)} of {count} sampled updates changed '{name}' by at most "
            f"{num(level, 2)} of its size (threshold {num(ratio_low)})"
            + (f", and {len(low) - 1} more layer(s) as little." if len(low) > 1 else "."),
            step=min(item[3] for item in low),
            where=[item[1] for item in low],
            evidence={"update_ratio_p90": {item[1]: rounded(item[0]) for item in low}, "sampled_steps": count},
        )]
