from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.dynamics._series import all_points

# Where the NaN began decides what to do about it; most likely causes and fixes first.
BY_ORIGIN = {
    "input": (
        "the input batch already contained NaN/Inf",
        ["Missing values in the data, or a preprocessing step that divides by a zero standard deviation."],
        ["Run `nndoctor audit` on the dataset (rule non-finite-data) and fix or drop the bad rows.",
         "Guard the normalisation: divide by `std + 1e-8`, or clean with `torch.nan_to_num` as a stopgap."],
    ),
    "parameter": (
        "the parameters were non-finite before training started",
        ["A checkpoint saved after the run had already diverged, or a custom initialisation that divides by zero."],
        ["Load an earlier checkpoint, or re-initialise with `nn.init.kaiming_normal_` / `nn.init.xavier_uniform_`."],
    ),
    "gradient": (
        "the last update wrote NaN/Inf into the parameters although the loss was finite",
        ["Exploding gradients: the learning rate is too high for this model/initialisation.",
         "An operation whose gradient is infinite at a finite input: `sqrt(x)` at 0, `x ** 0.5`, `norm` of a zero vector, `log(x)` hidden behind `torch.where`."],
        ["Lower the learning rate (try 10x lower) or add a warm-up schedule.",
         "Clip gradients before the update: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`.",
         "Add a small epsilon inside sqrt/norm/log (`torch.sqrt(x + 1e-12)`)."],
    ),
    "statistics": (
        "running statistics (BatchNorm mean/variance) overflowed to NaN/Inf after finite steps",
        ["Activations growing step after step until their variance no longer fits the float type: the learning rate is too high.",
         "Float16 statistics: a variance above 65504 overflows."],
        ["Lower the learning rate (try 10x lower) or add a warm-up schedule.",
         "Clip gradients before the update: `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`.",
         "Keep normalisation statistics in float32 under mixed precision."],
    ),
    "activation": (
        "a module turned finite inputs into NaN/Inf",
        ["log/sqrt/division of a value that can be zero or negative inside that module's forward.",
         "Overflow in half precision (float16 tops out at 65504).",
         "Activations blowing up with depth (see activation-blowup) until they overflow."],
        ["Clamp or shift the argument: `torch.log(x.clamp_min(1e-8))`, `torch.sqrt(x + 1e-12)`, `x / (d + 1e-8)`.",
         "Train in float32 or bfloat16 to check whether the overflow disappears.",
         "Add normalisation (`nn.LayerNorm`, `nn.BatchNorm1d`) or lower the learning rate."],
    ),
    "loss": (
        "the model's outputs were finite; the loss computation produced NaN/Inf",
        ["log of a probability that reached 0 (e.g. `torch.log(torch.sigmoid(x))` or `nn.BCELoss` on saturated outputs).",
         "Division by a count or norm that can be zero."],
        ["Use the numerically stable forms: `nn.BCEWithLogitsLoss`, `F.cross_entropy` on raw logits, `F.log_softmax`.",
         "Add an epsilon: `torch.log(p + 1e-8)`, `x / (n + 1e-8)`."],
    ),
    "eval": (
        "a validation loss was NaN/Inf while the training losses were finite",
        ["The validation data contains NaN/Inf, or is preprocessed differently from the training data (003 §4.5.3 #3)."],
        ["Audit the validation split (`nndoctor audit`) and apply the training preprocessing to it."],
    ),
}


def _loss_growth(series: Mapping[str, Any] | None, step: Any) -> tuple[tuple[int, float], tuple[int, float], float] | None:
    """(the lowest finite loss before the first NaN/Inf, the last one before it, last / lowest)."""
    if not series or step is None:
        return None
    before = [(s, v) for s, v in all_points(series) if s < int(step) and v > 0]
    if len(before) < 2:
        return None
    lowest, last = min(before, key=lambda point: point[1]), before[-1]
    return (lowest, last, last[1] / lowest[1]) if last[0] > lowest[0] else None


@register
class NonFinite(Rule):
    """The loss or the parameters became NaN/Inf; names where it began.

    What it detects:
        The first NaN or Inf in training, and where it began: in the input batch, in a
        parameter, in a gradient (the update wrote it), in running statistics (BatchNorm
        buffers) or in an activation — naming the first module that *produced* it from
        finite inputs, not the ones that merely passed it on — or in the loss computation. Also a run where most updates have
        non-finite gradients (a mixed-precision loss scaler skipping nearly every step).

    Why it matters:
        Once a NaN enters the parameters every later prediction is NaN; the run is over
        even if the script keeps going (000 §3.3: complete divergence shows as NaN).

    Likely causes:
        - Learning rate too high: gradients explode and overflow.
        - log/sqrt/division of zero or negative values in the model or the loss.
        - NaN in the data.

    Fixes:
        - Lower the learning rate or add warm-up; clip gradients with `torch.nn.utils.clip_grad_norm_`.
        - Add epsilons (`torch.log(x.clamp_min(1e-8))`) and use `nn.BCEWithLogitsLoss` / `F.cross_entropy` on logits.
        - Check the data for NaN with `nndoctor audit`.

    Example:
        non-finite: the loss became NaN at step 212 — it began in an activation:
        'encoder.scale' (LogScale) received finite inputs and returned NaN/Inf.
    """

    id = "non-finite"
    title = "NaN/Inf in training"
    severity = "error"
    area = "dynamics"
    requires = ("non_finite",)
    optional = ('grad_norm_global', 'loss_series')

    def check(
        self,
        m: Mapping[str, Any],
        *,
        skipped_update_share: float = 0.5,  # a loss scaler skips a few steps; most steps skipped means no training
        overflow_input_magnitude: float = 1e4,  # inputs this large = values grew until they overflowed (float16 max 6.5e4)
        diverged_loss_growth: float = 100.0,  # last finite loss / lowest before it: the run blew up, then overflowed
    ) -> list[Finding]:
        info = m["non_finite"]
        if info.get("found"):
            origin = info.get("origin", "unknown")
            summary, causes, fixes = BY_ORIGIN.get(origin, ("the origin could not be determined", None, None))
            growth = _loss_growth(m.get("loss_series"), info.get("step"))
            if origin in ("activation", "loss") and (info.get("largest_input") or 0) >= overflow_input_magnitude:
                where = "a module" if origin == "activation" else "the loss computation"
                summary = f"{where} overflowed: its inputs had grown to |x| = {num(info['largest_input'])}"
                causes, fixes = BY_ORIGIN["gradient"][1], BY_ORIGIN["gradient"][2]
            elif origin in ("activation", "loss", "unknown") and growth and growth[2] >= diverged_loss_growth:
                (low_step, low), (high_step, high) = growth[0], growth[1]
                summary = (f"training diverged first: the loss grew {num(high / low)}× (threshold "
                           f"{num(diverged_loss_growth)}×), from {num(low)} at step {low_step} to {num(high)} at step "
                           f"{high_step}, before it became NaN/Inf")
                causes, fixes = BY_ORIGIN["gradient"][1], BY_ORIGIN["gradient"][2]
            module = info.get("module")
            what = {"weights": "the parameters", "gradients": "the gradients"}.get(info.get("trigger")) or (
                "a validation loss" if origin == "eval" else "the training loss")
            message = (f"{what} became NaN/Inf at step {info.get('step')} (healthy training has "
                       f"none): {summary}" + (f", first producing module '{module}'." if module else "."))
            evidence = {key: info.get(key) for key in (
                "origin", "module", "module_type", "detail", "parameters", "largest_input", "loss_steps_non_finite",
                "eval_losses_non_finite", "grad_steps_non_finite") if info.get(key) is not None}
            return [self.finding(message, step=info.get("step"), where=module, evidence=evidence,
                                 causes=causes, fixes=fixes)]
        skipped = int(info.get("grad_steps_non_finite") or 0)
        sampled = skipped + int((m.get("grad_norm_global") or {}).get("count", 0))
        if skipped and sampled and skipped / sampled >= skipped_update_share:
            share = skipped / sampled
            return [self.finding(
                f"{percent(share, 0)} of the sampled updates had NaN/Inf gradients (threshold "
                f"{percent(skipped_update_share, 0)}); the parameters stayed finite, so a loss scaler is "
                "probably skipping almost every update.",
                step=info.get("first_grad_step"),
                evidence={"non_finite_grad_steps": skipped, "sampled_steps": sampled, "share": share},
                causes=["Mixed precision with a loss scale that never recovers: gradients overflow float16 at every step.",
                        "An operation with an infinite gradient at a finite input (sqrt or norm at 0)."],
                fixes=["Train in bfloat16 or float32; or lower the initial scale of `torch.amp.GradScaler(init_scale=...)`.",
                       "Add epsilons inside sqrt/norm, clip gradients with `torch.nn.utils.clip_grad_norm_`."],
            )]
        return []
