from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class BatchSizeOffNoiseScale(Rule):
    """The batch size is far from the gradient noise scale, the batch size where larger batches stop paying off.

    What it detects:
        `nndoctor tune batch-size` measures the simple gradient noise scale
        B_simple = tr(Σ)/|G|² from per-micro-batch gradients at two batch sizes
        (McCandlish et al. 2018; 003 §4.5.4: the variance of the gradient components over
        the squared norm of the gradient), with a jackknife standard error. This fires
        (as a tip) when your batch size is more than a factor (10×) above its upper
        bound or below its lower bound.

    Why it matters:
        Below B_simple each step is dominated by gradient noise: a k× larger batch (with
        a k× larger lr) reaches the same loss in about k× fewer steps — "perfect
        scaling" (003 §4.5.4, Shallue et al.). Far above it the extra samples barely
        change the step: compute is spent for nothing, and very large batches tend
        towards sharp minima. The noise scale grows as the loss falls, so a value
        measured at the start is a lower bound for later in training.

    Likely causes:
        - A batch size kept from another data set or model, or set by the memory limit alone.

    Fixes:
        - Far below: raise the batch size towards B_simple and scale the lr with it (linear scaling, with a warm-up).
        - Far above: the same loss needs about as many steps with a smaller batch; use the compute for more steps or a larger model.
        - Re-measure later in training (`nndoctor.tune.noise_scale` on a checkpoint): the useful batch size grows.

    Example:
        batch-size-off-noise-scale: your batch of 4096 is 41× the gradient noise scale
        B_simple ≈ 100 (± 12, measured at the current weights; threshold 10×).
    """

    id = "batch-size-off-noise-scale"
    title = "batch size far from the gradient noise scale"
    severity = "info"
    area = "tuning"
    requires = ("noise_scale",)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        factor_max: float = 10.0,  # an order of magnitude: within it the regimes blend (Shallue et al.'s curves bend over ~10×)
    ) -> list[Finding]:
        result = m["noise_scale"]
        value, low, high = result["b_simple"], result["b_simple_low"], result["b_simple_high"]
        batch = result["user_batch_size"]
        if value is None or low is None or high is None:
            return []
        error = (high - low) / 2
        evidence = {"b_simple": value, "b_simple_low": low, "b_simple_high": high, "batch_size": batch,
                    "factor_max": factor_max}
        if batch > factor_max * high:
            return [self.finding(
                f"Your batch of {batch} is {num(batch / value, 2)}× the gradient noise scale B_simple ≈ {num(value)} "
                f"(± {num(error, 2)}, measured at the current weights; threshold {num(factor_max)}×): larger batches than "
                "this barely reduce the noise of a step.", evidence=evidence)]
        if batch * factor_max < low:
            return [self.finding(
                f"Your batch of {batch} is {num(value / batch, 2)}× below the gradient noise scale B_simple ≈ {num(value)} "
                f"(± {num(error, 2)}, measured at the current weights; threshold {num(factor_max)}×): a larger batch with a "
                "proportionally larger lr would need fewer steps.", evidence=evidence)]
        return []
