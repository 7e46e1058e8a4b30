"""The framework-free recorder of a live training run: plain numbers in, per event, and
the dynamics measurements out (nndoctor.core.measurements: loss_series, grad_norm_*, …).

An adapter observes training and calls, with `step` the 0-based count of updates:

    loss(step, value)                     each training loss (non-finite ones are counted)
    eval_loss(step, value)                validation losses (several at one step are averaged)
    gradient_norms(step, {name: norm})    per parameter, on sampled steps
    weight_norms(step, {name: norm})      per parameter, on sampled steps
    update_ratios(step, {name: ratio})    ||Δw|| / ||w|| per weight matrix, on sampled steps
    learning_rates(step, {group: lr})     per parameter group, when known
    activation_rms(step, layers, values)  output RMS per layer in forward order, sampled
    update_done(step)                     an update finished (step boundary)
    non_finite_origin(step, origin=…, module=…, detail=…, trigger=…)   where a NaN began

`parameter_kinds` (name → kind/module_type/shape/order) is set by the adapter once it
knows the parameters. Memory is bounded whatever the run length (BoundedSeries).
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from nndoctor.live.series import BoundedSeries, small_series

RMS_PROFILES_HEAD, RMS_PROFILES_RECENT = 4, 16
FLOAT32_MAX = 3.4028234663852886e38
# The names `Recorder.measurements()` returns (an adapter's capability is built from them).
MEASUREMENTS = ("dynamics_every", "dynamics_updates", "loss_series", "eval_loss_series", "grad_norm_global",
                "grad_norm_per_layer", "weight_norm_per_layer", "update_ratio_per_layer", "learning_rate_per_group",
                "parameter_kinds", "activation_rms", "non_finite")


def _series_for(store: dict[str, BoundedSeries], name: str) -> BoundedSeries:
    series = store.get(name)
    if series is None:
        series = store[name] = small_series()
    return series


class Recorder:
    def __init__(self, *, every: int = 10) -> None:
        self.every = every
        self.parameter_kinds: dict[str, dict[str, Any]] = {}
        self.updates = 0
        self._loss = BoundedSeries()
        self._eval = BoundedSeries()
        self._eval_pending: list[float] = []  # [step, sum, n]
        self._grad_global = BoundedSeries(head_size=16, recent_size=64, max_buckets=64)
        self._grad: dict[str, BoundedSeries] = {}
        self._weight: dict[str, BoundedSeries] = {}
        self._update: dict[str, BoundedSeries] = {}
        self._lr: dict[str, BoundedSeries] = {}
        self._rms_head: list[dict[str, Any]] = []
        self._rms_recent: deque[dict[str, Any]] = deque(maxlen=RMS_PROFILES_RECENT)
        self.non_finite: dict[str, Any] = {
            "found": False, "loss_steps_non_finite": 0, "eval_losses_non_finite": 0,
            "grad_steps_non_finite": 0, "first_grad_step": None,
        }
        self.first_non_finite_loss_step: int | None = None

    # ----------------------------------------------------------------- events
    def loss(self, step: int, value: float) -> None:
        value = float(value)
        if math.isfinite(value):
            self._loss.add(step, value)
            return
        self.non_finite["loss_steps_non_finite"] += 1
        if self.first_non_finite_loss_step is None:
            self.first_non_finite_loss_step = step

    def eval_loss(self, step: int, value: float) -> None:
        value = float(value)
        if not math.isfinite(value):
            self.non_finite["eval_losses_non_finite"] += 1
            # Only an evaluation that went bad on its own is the origin: after a NaN in the
            # training losses or gradients the training's own origin is told (it may be
            # located later, on the host), and a NaN validation loss is just its consequence.
            training_bad = self.first_non_finite_loss_step is not None or self.non_finite["grad_steps_non_finite"]
            if not self.non_finite["found"] and not training_bad:
                self.non_finite_origin(step, origin="eval", module=None, trigger="eval loss",
                                       detail="a validation loss was NaN/Inf while training losses were finite")
            return
        if self._eval_pending and self._eval_pending[0] != step:
            self._close_eval()
        if not self._eval_pending:
            self._eval_pending = [step, 0.0, 0]
        self._eval_pending[1] += value
        self._eval_pending[2] += 1

    def _close_eval(self) -> None:
        step, total, n = self._eval_pending
        self._eval.add(int(step), total / n)
        self._eval_pending = []

    def gradient_norms(self, step: int, norms: Mapping[str, float]) -> None:
        total, finite = 0.0, True
        for name, value in norms.items():
            value = float(value)
            if math.isfinite(value):
                _series_for(self._grad, name).add(step, value)
                total += value * value
            else:
                finite = False
        if finite:
            self._grad_global.add(step, math.sqrt(total))
            return
        self.non_finite["grad_steps_non_finite"] += 1
        if self.non_finite["first_grad_step"] is None:
            self.non_finite["first_grad_step"] = step

    def weight_norms(self, step: int, norms: Mapping[str, float]) -> None:
        for name, value in norms.items():
            if math.isfinite(float(value)):
                _series_for(self._weight, name).add(step, float(value))

    def update_ratios(self, step: int, ratios: Mapping[str, float]) -> None:
        for name, value in ratios.items():
            if math.isfinite(float(value)):
                _series_for(self._update, name).add(step, float(value))

    def learning_rates(self, step: int, rates: Mapping[str, float]) -> None:
        for group, value in rates.items():
            if math.isfinite(float(value)):
                _series_for(self._lr, str(group)).add(step, float(value))

    def activation_rms(self, step: int, layers: Iterable[str], values: Iterable[float]) -> None:
        profile = {"step": step, "layers": list(layers), "rms": [float(v) for v in values]}
        if len(self._rms_head) < RMS_PROFILES_HEAD:
            self._rms_head.append(profile)
        else:
            self._rms_recent.append(profile)

    def update_done(self, step: int) -> None:
        self.updates = max(self.updates, step + 1)

    def non_finite_origin(self, step: int | None, **origin: Any) -> None:
        """Where the first NaN/Inf began (origin: input, parameter, gradient, activation,
        loss, eval, unknown; module, detail, trigger…); later calls are ignored."""
        if not self.non_finite["found"]:
            self.non_finite.update(found=True, step=step, **origin)

    # ----------------------------------------------------------------- results
    def measurements(self) -> dict[str, Any]:
        """The names of MEASUREMENTS, each a plain value or None when not seen."""
        if self._eval_pending:
            self._close_eval()
        profiles = [*self._rms_head, *self._rms_recent]
        return {
            "dynamics_every": self.every,
            "dynamics_updates": self.updates,
            "loss_series": self._loss.to_dict() if self._loss.count else None,
            "eval_loss_series": self._eval.to_dict() if self._eval.count else None,
            "grad_norm_global": self._grad_global.to_dict() if self._grad_global.count else None,
            "grad_norm_per_layer": {n: s.to_dict() for n, s in self._grad.items()} or None,
            "weight_norm_per_layer": {n: s.to_dict() for n, s in self._weight.items()} or None,
            "update_ratio_per_layer": {n: s.to_dict() for n, s in self._update.items()} or None,
            "learning_rate_per_group": {n: s.to_dict() for n, s in self._lr.items()} or None,
            "parameter_kinds": dict(self.parameter_kinds) or None,
            "activation_rms": {"profiles": [dict(p) for p in profiles]} if profiles else None,
            "non_finite": dict(self.non_finite),
        }
