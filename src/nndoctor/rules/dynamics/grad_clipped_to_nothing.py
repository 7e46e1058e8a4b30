from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import count, num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule


@register
class GradClippedToNothing(Rule):
    """Gradient clipping with a tiny threshold shrinks every gradient to nothing.

    What it detects:
        Each sampled call of `clip_grad_norm_` (the total gradient norm it returns, before
        clipping, against `max_norm`) and of `clip_grad_value_` (the largest gradient entry
        against `clip_value`). It fires when, on at least `share_min` of at least
        `min_samples` sampled calls, clipping divided the gradient by `shrink_factor_min`
        or more *and* left it below `clipped_size_max` in absolute terms — a threshold such
        as `1e-9` typed for `1.0`. Clipping that trims occasional spikes (the purpose of
        clipping: 000 §3, 003 #16) divides by a few at most and only on some steps, and
        a large threshold on a huge loss is not "nothing": neither fires.

    Why it matters:
        After clipping, the optimizer sees a gradient 10⁴–10⁹ times smaller than the loss
        asks for. Plain SGD then moves the weights by less than their float32 resolution;
        Adam's normalisation hides part of the shrink, but a gradient entry far below
        Adam's `eps` (1e-8) still gives steps a thousand times too small. The loss stays
        flat, nothing is non-finite, and no other check sees a bug: the run learns nothing.

    Likely causes:
        - A clipping threshold typed with the wrong exponent (`max_norm=1e-9` for `1.0`), or a tuned config value in the wrong unit.
        - `clip_grad_value_` given a tiny clip value (every entry becomes ±clip_value).
        - The clip threshold taken from another variable (a learning rate or an epsilon) by mistake.

    Fixes:
        - Clip to a norm of about 1: `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)` (0.25–5 are common; word_language_model uses 0.25, the HF Trainer 1.0).
        - Print the norm it returns (`norm = clip_grad_norm_(...)`) for a few steps and set `max_norm` near its typical value, so that only spikes are cut.
        - Drop the clipping altogether if the gradients never spike.

    Example:
        grad-clipped-to-nothing: clip_grad_norm_(max_norm=1e-09) cut the gradient norm from
        2.3 to 1e-09 (2.3e+09× smaller, threshold 1e+04×) on 10 of 10 sampled calls since
        step 0: the optimizer sees almost no gradient and the model cannot learn.
    """

    id = "grad-clipped-to-nothing"
    title = "gradient clipped to nothing"
    severity = "error"
    area = "dynamics"
    requires = ("grad_clipping",)
    # A state: a later stretch of normal clipping (the threshold was raised) contradicts it.
    retractable = True

    def check(
        self,
        m: Mapping[str, Any],
        *,
        shrink_factor_min: float = 1e4,  # clipping cuts spikes by a few times; 10^4× shrinks every step to noise
        clipped_size_max: float = 1e-3,  # a clipped norm below 1e-3 is no threshold anyone tunes to (common: 0.25–5)
        min_samples: int = 3,  # three sampled calls agreeing: not a single odd batch
        share_min: float = 0.8,  # most sampled calls: an occasional spike clipped hard is clipping doing its job
    ) -> list[Finding]:
        samples = m["grad_clipping"].get("samples") or []
        if len(samples) < min_samples:
            return []
        crushed = [s for s in samples if _shrink(s) >= shrink_factor_min and s["after"] < clipped_size_max]
        if len(crushed) < share_min * len(samples):
            return []
        first = crushed[0]
        shrinks = sorted(_shrink(s) for s in crushed)
        typical = shrinks[len(shrinks) // 2]
        function, argument, size = (("clip_grad_norm_", "max_norm", "gradient norm") if first["kind"] == "norm"
                                    else ("clip_grad_value_", "clip_value", "largest gradient entry"))
        befores = sorted(s["before"] for s in crushed)
        return [self.finding(
            f"{function}({argument}={num(first['threshold'])}) cut the {size} from {num(befores[len(befores) // 2])} to "
            f"{num(first['after'])} ({num(typical)}× smaller, threshold {num(shrink_factor_min)}×) on "
            f"{count(len(crushed))} of {count(len(samples))} sampled calls ({percent(len(crushed) / len(samples), 0)}, "
            f"threshold {percent(share_min, 0)}) since step {first['step']}: the optimizer sees almost no gradient "
            f"and the model cannot learn.",
            step=first["step"],
            where=function,
            evidence={"kind": first["kind"], "threshold": first["threshold"], "median_before": befores[len(befores) // 2],
                      "median_shrink": typical, "crushed_calls": len(crushed), "sampled_calls": len(samples),
                      "calls": m["grad_clipping"].get("calls"), "first_step": first["step"]},
        )]


def _shrink(sample: Mapping[str, Any]) -> float:
    after = sample["after"]
    return sample["before"] / after if after > 0 else (float("inf") if sample["before"] > 0 else 1.0)
