from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.preflight.target_scale import TARGET_RMS_MAX, regression_target_rms


@register
class IgnoresInput(Rule):
    """The model learns no better from the real inputs than from inputs set to zero.

    What it detects:
        Copies trained with Adam 1e-3 on the same targets for the same number of steps:
        one on the real inputs, one on all-zero inputs, one on random inputs of the same
        scale (003 §4.5.2 #4, §4.5.3 #9). With zeroed inputs the model can only learn the
        label prior; if the real inputs bring the loss no lower, the model is not using
        them. Batches where the prior alone already reaches the floor (all targets equal)
        are not judged, nor a real-input run that is still falling after the zero-input
        copy has levelled off (a slow learner, such as a curve fit on neighbouring points).

    Why it matters:
        The model then predicts the average answer for everyone. The loss still decreases
        a little (it learns the class frequencies), so training looks alive while nothing
        about the inputs is learned (003: "the model is corrupting or ignoring the data").

    Likely causes:
        - The input is overwritten, detached or multiplied by zero in forward (a leftover `x = torch.zeros_like(x)`, a mask of zeros).
        - The wrong tensor is fed in (a constant feature, the padding, the targets' placeholder).
        - Preprocessing that destroys the signal: normalising with a huge or zero std, integer division, all-NaN replaced by 0.

    Fixes:
        - Print the model input right where it enters forward for two different samples and check that they differ.
        - Follow the input through the layers (forward hooks) and find where two samples become equal.
        - Check normalisation statistics (`x.mean()`, `x.std()` per feature) after preprocessing.

    Example:
        ignores-input: after 200 steps the loss with real inputs is 1.61, no better than
        1.61 with zeroed inputs (threshold: 10% of the way from zero-input loss to the floor).
    """

    id = "ignores-input"
    title = "model ignores its input"
    severity = "warning"
    area = "preflight"
    requires = ("input_sensitivity",)
    optional = ('initial_loss',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        improvement_min: float = 0.1,  # real inputs must close ≥10% of the gap between the zero-input loss and the floor
        judgeable_gap_min: float = 0.05,  # the zero-input loss must stay ≥5% of the initial distance above the floor
        target_rms_max: float = TARGET_RMS_MAX,  # beyond this, 50 Adam steps cannot fit the targets at all (target_scale says why)
        # A model that ignores its input follows the zero-input copy step for step. A healthy
        # fit on a batch whose inputs barely differ (16 neighbouring points of a 1-D curve,
        # x in [-2, -1.76]) learns the input direction slowly: the zero-input copy settles on
        # the mean within ~50 steps while the real run is still falling at step 200. Measured
        # (last-quarter fall beyond the zero copy's, share of the gap) over 160 such healthy
        # fits (12 seeds, Tanh/ReLU, width 32/64, noise 0.05/0.1, edge and centre windows):
        # ≥ 0.9% in every one the level comparison alone would flag;
        # masked, rounded-away, constant or 1e-6-scaled inputs (MLP, CNN) ≤ 5e-7. 0.1% leaves
        # a factor 9 to the healthy side and 2000 to the broken one.
        slow_learner_tail_share: float = 0.001,  # real run's last-quarter fall beyond the zero copy's, as a share of the gap
    ) -> list[Finding]:
        if (regression_target_rms(m) or 0.0) > target_rms_max:
            return []
        s = m["input_sensitivity"]
        zero, real, floor, initial = s.get("zero_final"), s["real_final"], s["floor"], s["initial"]
        if zero is None or real != real:
            return []
        gap = zero - floor
        if gap <= judgeable_gap_min * max(initial - floor, 0.0) or gap <= 0:
            return []
        improvement = (zero - real) / gap
        if improvement >= improvement_min:
            return []
        real_drop, zero_drop = s.get("real_tail_drop"), s.get("zero_tail_drop")
        if real_drop is not None and zero_drop is not None and real_drop - zero_drop >= slow_learner_tail_share * gap:
            return []
        random = s.get("random_final")
        random_text = f" and {num(random, 4)} with random inputs" if random is not None else ""
        return [self.finding(
            f"After {s['steps']} steps the loss with the real inputs is {num(real, 4)}, against {num(zero, 4)} with "
            f"zeroed inputs{random_text}: the real inputs closed {percent(max(improvement, 0.0), 0)} of the gap to the "
            f"floor {num(floor)} (threshold {percent(improvement_min, 0)}).",
            evidence={"steps": s["steps"], "samples": s.get("samples"), "real_final": real, "zero_final": zero,
                      "random_final": random, "floor": floor, "improvement": improvement},
        )]
