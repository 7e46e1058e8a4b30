from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nndoctor.core.finding import Finding
from nndoctor.core.numbers import num, percent
from nndoctor.core.registry import register
from nndoctor.core.rule import Rule
from nndoctor.rules.preflight.target_scale import TARGET_RMS_MAX, regression_target_rms

LABELS = {"batch": "the batch", "two_samples": "two samples"}
OPTIMIZER_CAUSES = [
    "The learning rate is too low (the loss barely moves) or too high (it grows or becomes NaN).",
    "Momentum or weight decay settings that fight the updates; a scheduler whose base lr is wrong.",
]
OPTIMIZER_FIXES = [
    "Start from Adam with lr=1e-3 (`torch.optim.Adam(model.parameters(), lr=1e-3)`), then tune.",
    "Sweep the learning rate by factors of 10 (1e-5 … 1) on one batch and keep the largest that does not diverge.",
]


def _progress(run: Mapping[str, Any]) -> float | None:
    """Share of the distance from the initial loss to the floor covered by the best loss."""
    distance = run["initial"] - run["floor"]
    if not math.isfinite(run["initial"]) or distance <= 1e-8 * max(1.0, abs(run["initial"])):
        return None
    best = run["best"] if math.isfinite(run["best"]) else run["initial"]
    return (run["initial"] - best) / distance


def _still_falling(run: Mapping[str, Any]) -> float | None:
    """Share of the remaining distance to the floor covered in the last quarter of the run."""
    curve = run.get("curve") or []
    if len(curve) < 5 or not all(math.isfinite(v) for v in curve[3:]):
        return None
    remaining = curve[3] - run["floor"]
    return (curve[3] - curve[4]) / remaining if remaining > 0 else None


def _diverged(run: Mapping[str, Any]) -> bool:
    return bool(run["non_finite"]) or (math.isfinite(run["final"]) and run["final"] > run["initial"])


def _describe(run: Mapping[str, Any], progress: float | None) -> str:
    share = f", {percent(progress, 0)} of the way to its floor {num(run['floor'])}" if progress is not None else ""
    return (f"with {run['optimizer']} the loss on {LABELS.get(run['data'], run['data'])} went from "
            f"{num(run['initial'], 4)} to {num(run['final'], 4)} in {run['steps']} steps{share}")


@register
class CannotOverfitBatch(Rule):
    """The model cannot memorise a single batch (or two samples), which a working setup always can.

    What it detects:
        Copies of the model are trained on your one batch (its first 16 samples), and on
        its first two samples if the batch is not memorised, for a bounded number of steps (000 §1.4: the loss should drop sharply within
        10–100 updates; 001, 003: any model can overfit one or two samples). Each is
        trained with your optimizer settings and with Adam 1e-3 (000 §1.1.3). If Adam
        fails too, the code or architecture is broken (unless your settings memorise the
        batch, as L-BFGS does a smooth curve); if only your settings fail, it is
        the learning rate or optimizer. Progress is measured towards the lowest reachable
        loss (label smoothing, soft targets and duplicated inputs with different targets
        raise it above 0).

    Why it matters:
        If a model cannot memorise 16 examples it will not learn from millions: something
        between data, model, loss and optimizer is disconnected, and longer training or
        more data will not fix it.

    Likely causes:
        - Parameters left out of the optimizer or frozen; gradients that are zero or blocked (`.detach()`, `.data`, `torch.no_grad()` in forward).
        - The wrong loss for the task, or its input/target shapes broadcasting (000 §1.4).
        - The input never reaches the output (overwritten, multiplied by zero, dead activations).
        - A learning rate far too low or too high (when only your optimizer fails).
        - Regression targets in raw units far from 1 (reported as a warning naming their scale).

    Fixes:
        - Look at the no-gradient, params-not-updated and loss-broadcasting findings first; they name the broken part.
        - Assert shapes in the training step (`assert pred.shape == target.shape`) and print a few predictions next to their targets.
        - Simplify until it overfits: remove regularisation, normalisation and extra layers (000 §1.1), then add them back one by one.
        - If only your optimizer fails, use `torch.optim.Adam(model.parameters(), lr=1e-3)` or sweep the learning rate by factors of 10.

    Example:
        cannot-overfit-batch: with Adam(lr=0.001) the loss on the batch went from 2.31 to
        2.29 in 200 steps, 1% of the way to its floor 0 (threshold 50%); with SGD(lr=0.01)
        2.31 → 2.30.
    """

    id = "cannot-overfit-batch"
    title = "cannot overfit one batch"
    severity = "error"
    area = "preflight"
    requires = ("overfit",)
    optional = ('initial_loss',)

    def check(
        self,
        m: Mapping[str, Any],
        *,
        reference_progress_min: float = 0.5,  # healthy tiny MLP/CNN/LSTM/transformers measured 0.75–0.99 within the budget; broken wiring stays near 0 or at the label entropy
        user_progress_min: float = 0.1,  # your settings only need to move the loss clearly; slow-but-working SGD passes
        target_rms_max: float = TARGET_RMS_MAX,  # Adam grows a fresh output by ~0.01–0.1 per step: larger targets are out of reach
        still_falling_share_min: float = 0.1,  # a stuck setup is flat at the end; a slow learner still closes ≥10% of the rest per quarter
    ) -> list[Finding]:
        runs = m["overfit"]["runs"]
        reference = {r["data"]: r for r in runs if r["reference"]}
        user = {r["data"]: r for r in runs if not r["reference"]}
        evidence = {
            f"{r['data']}_{'adam' if r['reference'] else 'yours'}": {
                "optimizer": r["optimizer"], "initial": r["initial"], "final": r["final"], "floor": r["floor"],
                "steps": r["steps"], "progress": _progress(r)} for r in runs
        }
        for data, run in reference.items():
            progress = _progress(run)
            if data in user and not user[data]["non_finite"] and (_progress(user[data]) or 0.0) >= reference_progress_min:
                # Your optimizer memorised this data (LBFGS fits a smooth curve in a few steps
                # that Adam 1e-3 needs thousands for): code and architecture can learn.
                continue
            if progress is not None and (progress < reference_progress_min or run["non_finite"]):
                mine = f"; {_describe(user[data], _progress(user[data]))}" if data in user else ""
                rms = regression_target_rms(m)
                if rms is not None and rms > target_rms_max:
                    return [self._unscaled_targets(run, progress, rms, target_rms_max, evidence)]
                falling = _still_falling(run)
                if falling is not None and falling >= still_falling_share_min and not run["non_finite"]:
                    return [self.finding(
                        f"{_describe(run, progress)[0].upper()}{_describe(run, progress)[1:]} (threshold "
                        f"{percent(reference_progress_min, 0)}), but it was still falling: the last quarter closed "
                        f"{percent(falling, 0)} of the rest (threshold {percent(still_falling_share_min, 0)}) — a slow learner, "
                        "not a broken one; run preflight with more steps to be sure.",
                        severity="info", evidence={**evidence, "still_falling_share": falling},
                        causes=["A model that learns slowly at lr=1e-3 (bottlenecks, deep narrow nets)."],
                        fixes=["Run `nndoctor.preflight(..., steps=1000)` to see whether it memorises the batch."],
                    )]
                return [self.finding(
                    f"{_describe(run, progress)[0].upper()}{_describe(run, progress)[1:]} "
                    f"(threshold {percent(reference_progress_min, 0)}){mine} — the reference optimizer fails too, "
                    "so the code or architecture is at fault.",
                    evidence=evidence,
                )]
        for data, run in user.items():
            progress = _progress(run)
            if progress is None or data not in reference:
                continue
            if progress < user_progress_min or _diverged(run):
                ref = reference[data]
                what = "diverged" if _diverged(run) else f"covered only {percent(progress, 0)} (threshold {percent(user_progress_min, 0)})"
                return [self.finding(
                    f"{_describe(run, progress)[0].upper()}{_describe(run, progress)[1:]} — it {what}, while "
                    f"{_describe(ref, _progress(ref))}: a learning-rate/optimizer problem.",
                    severity="warning", evidence=evidence, causes=OPTIMIZER_CAUSES, fixes=OPTIMIZER_FIXES,
                )]
        return []

    def _unscaled_targets(self, run: Mapping[str, Any], progress: float | None, rms: float, rms_max: float,
                          evidence: dict[str, Any]) -> Finding:
        return self.finding(
            f"{_describe(run, progress)[0].upper()}{_describe(run, progress)[1:]}, but the regression targets have an "
            f"RMS of {num(rms, 4)} (threshold {num(rms_max)}): no network output reaches that scale in a few hundred "
            "steps, so the targets' scale, not the code, is the first thing to fix.",
            severity="warning", evidence={**evidence, "target_rms": rms},
            causes=["Regression targets used in their raw units (prices, counts, pixel values 0–255) instead of standardised."],
            fixes=["Standardise the targets (`y = (y - y_mean) / y_std`, undo it for predictions) or set the output "
                   "bias to their mean: `nn.init.constant_(head.bias, y.mean())`."],
        )
