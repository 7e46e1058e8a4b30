"""The host side of a watched JAX run: receives the numbers the optax wrapper and the
patched grad transforms send out of jit, feeds the framework-free recorder
(nndoctor.live.recorder), judges with nndoctor.live.judge and reports.

Nothing here runs inside the user's computation: device code only calls back with a few
small arrays. Every callback is contained — a fault inside nndoctor is recorded as an
`internal-error` finding and never reaches the training script.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Any

import jax
import numpy as np

from nndoctor.core.capability import Capability, RuleSet, Selection
from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.jax import idioms  # noqa: F401 — registers the JAX idiom table
from nndoctor.live.faults import FaultLog
from nndoctor.live.judge import JUDGE_INTERVAL_SECONDS, Judge
from nndoctor.live.recorder import FLOAT32_MAX, Recorder
from nndoctor.live.report_series import add_series
from nndoctor.live.recorder import MEASUREMENTS as RECORDED


def _scalar(value: Any) -> float:
    """A loss as the host sees it: a device array, a numpy value or a number (its first element)."""
    return float(np.asarray(value, np.float64).reshape(-1)[0])


def _ready(value: Any) -> bool:
    """Whether reading a logged loss would not wait for the device (a number always is)."""
    is_ready = getattr(value, "is_ready", None)
    if is_ready is None:
        return True
    try:
        return bool(is_ready())
    except Exception:  # noqa: BLE001 — a deleted array: reading it reports the fault
        return True


# Losses not yet computed are kept up to this many times `every` before logging waits for them.
PENDING_LOSSES_FACTOR = 4
JUDGE_COST_FACTOR = 100  # wait at least 100× the last judgement's duration before the next
# Why a measurement of a JAX run is absent, when nothing more specific is known.
UNMEASURED_REASONS = {
    "eval_loss_series": "no validation loss was seen: under `nndoctor run`, an optax loss computed in a jitted "
                        "step that takes no gradient (an eval_step) is one; with nndoctor.jax.watch, call "
                        "tx.log(val_loss=...) after evaluating",
    "update_ratio_per_layer": "optimizer.update was called without params, so update sizes are unknown "
                              "(pass params: tx.update(grads, state, params))",
    "weight_norm_per_layer": "optimizer.update was called without params",
    "activation_rms": "the optax wrapper sees gradients and updates, not activations",
    "activation_stats": "the optax wrapper sees gradients and updates, not activations",
    "loss_series": "no training loss was seen: call tx.log(loss=...) every step",
    "parameter_status": "no optimizer update was observed",
}
# What a watched JAX run measures; rules needing anything else are left out of its reports.
CAPABILITY = Capability(
    "jax-run", "run",
    frozenset({*RECORDED, "framework", "steps_observed", "dropout_keys", "parameter_status"}),
    absent_reasons=UNMEASURED_REASONS)


def parameter_kind(name: str, shape: tuple[int, ...]) -> str:
    lowered = name.lower()
    owner = lowered.rsplit("/", 1)[0] if "/" in lowered else ""
    if "embed" in lowered:
        return "embedding"
    if "norm" in owner or lowered.endswith("/scale"):
        return "norm"
    if len(shape) >= 2:
        return "weight"
    return "bias" if lowered.endswith("bias") else "vector"


def module_type(name: str) -> str:
    owner = name.rsplit("/", 1)[0] if "/" in name else name
    segment = owner.rsplit("/", 1)[-1]
    return segment.rsplit("_", 1)[0] if segment.rsplit("_", 1)[-1].isdigit() else segment


class JaxDoctor:
    def __init__(self, *, every: int, selection: Selection | None = None, live: bool = True,
                 stop_on: str | None = None, command: str = "watch") -> None:
        self.every = every
        self.recorder = Recorder(every=every)
        self.faults = FaultLog()
        self.judge = Judge(RuleSet(CAPABILITY, selection), live=live, stop_on=stop_on, command=command)
        self.names: list[str] = []
        self.shapes: list[tuple[int, ...]] = []
        self.saw_params = False
        self.losses_logged = 0
        self._pending_losses: list[tuple[int, Any]] = []
        self._lock = threading.Lock()
        self.dropout_keys: dict[bytes, int] = {}
        self.dropout_sites: dict[bytes, str] = {}
        self.replay: Any = None  # a callable that replays the first non-finite step (set by run mode)
        # A callable reading the statistics not yet read from the optimizer state (set by the
        # aux-mode wrapper, which reads them in batches): called before deciding where a NaN began.
        self.pull_statistics: Any = None
        # Per leaf over the sampled updates: was any gradient / update non-zero?
        self.leaf_nonzero_grad: dict[str, bool] = {}
        self.leaf_moved: dict[str, bool] = {}
        # Did a leaf's parameter norm ever differ from the first one sampled? Identical norms
        # after non-zero updates: the new parameters were not kept (functional code that
        # drops the result of apply_gradients / apply_updates).
        self._first_param_norm: dict[str, float] = {}
        self.leaf_param_changed: dict[str, bool] = {}
        self.param_samples = 0
        self.stuck_step_samples = 0  # samples whose optimizer step count had not advanced
        self._last_sample_step = -1
        self.worst_grad_leaf: tuple[int, str, int, list[str]] | None = None
        self.largest_parameter: float | None = None  # max |param| at the last sampled update
        self.context: dict[str, Any] = {"framework": "jax"}
        self.finished: Report | None = None
        self._next_judge = 0.0

    @property
    def step(self) -> int:
        """Training steps seen so far (what a recording's heartbeats report)."""
        return max(self.recorder.updates, self.losses_logged)

    # ----------------------------------------------------------------- set-up
    def describe_parameters(self, names: list[str], shapes: list[tuple[int, ...]]) -> None:
        self.names, self.shapes = names, shapes
        self.recorder.parameter_kinds.update({
            name: {"kind": parameter_kind(name, shape), "module_type": module_type(name), "shape": list(shape),
                   "order": order}
            for order, (name, shape) in enumerate(zip(names, shapes))})

    # ----------------------------------------------------------------- device callbacks
    def on_statistics(self, count: Any, norms: Any, has_params: bool, names: list[str],
                      shapes: list[tuple[int, ...]]) -> None:
        """Per-leaf statistics of one sampled update: `norms` holds the gradient, update and
        parameter L2 norm of every leaf, in that order (from inside jit, or the state)."""
        with self.faults.guard("optax wrapper statistics"), self._lock:
            if names != self.names:
                self.describe_parameters(names, shapes)
            step = int(count)
            grad_norms, update_norms, param_norms = np.split(np.asarray(norms, np.float64), 3)
            grads = grad_norms.tolist()
            bad = [int(v) for v in np.isnan(grad_norms)]  # 1 where the leaf's gradient holds a NaN
            largest_parameter = float(param_norms.max()) if param_norms.size else 0.0  # ≥ every |param|
            # An Inf norm (without NaN) is huge values whose squares overflowed float32: it is
            # recorded as the largest float32, which every growth threshold counts as huge.
            grads = [FLOAT32_MAX if not math.isfinite(g) and not b else g for g, b in zip(grads, bad)]
            self.recorder.gradient_norms(step, dict(zip(self.names, grads)))
            updates = update_norms.tolist()
            for name, grad, update in zip(self.names, grads, updates):
                if any(bad):
                    break  # a step with NaN/Inf gradients says nothing about cut-off leaves
                self.leaf_nonzero_grad[name] = self.leaf_nonzero_grad.get(name, False) or bool(grad != 0)
                self.leaf_moved[name] = self.leaf_moved.get(name, False) or bool(update != 0)
            if any(bad) and self.worst_grad_leaf is None:
                first = bad.index(1)
                self.worst_grad_leaf = (step, self.names[first], sum(bad), [n for n, b in zip(self.names, bad) if b][:8])
            if step <= self._last_sample_step:
                self.stuck_step_samples += 1
            self._last_sample_step = max(self._last_sample_step, step)
            if has_params:
                self.saw_params = True
                if not any(bad):
                    self.param_samples += 1
                    for name, norm in zip(self.names, param_norms.tolist()):
                        first = self._first_param_norm.setdefault(name, norm)
                        self.leaf_param_changed[name] = self.leaf_param_changed.get(name, False) or norm != first
                if math.isfinite(float(largest_parameter)):
                    self.largest_parameter = float(largest_parameter)
                params = param_norms.tolist()
                self.recorder.weight_norms(step, dict(zip(self.names, params)))
                self.recorder.update_ratios(step, {
                    name: u / p for name, u, p, shape in zip(self.names, updates, params, self.shapes)
                    if len(shape) >= 2 and p > 0 and "embed" not in name.lower()})
            self.recorder.update_done(step)

    def on_loss(self, value: Any) -> None:
        """A training loss seen inside a grad transform (zero-code runs)."""
        with self.faults.guard("loss capture"), self._lock:
            self.recorder.loss(self.losses_logged, _scalar(value))
            self.losses_logged += 1

    def on_eval_loss(self, value: Any) -> None:
        """A validation batch's loss seen in a jitted function without gradients (zero-code
        runs, nndoctor.jax.eval_losses); one evaluation pass's batches are averaged."""
        with self.faults.guard("validation loss capture"), self._lock:
            self.recorder.eval_loss(self.losses_logged, _scalar(value))

    def on_dropout_key(self, key_data: Any, site: str) -> None:
        with self.faults.guard("dropout key check"), self._lock:
            raw = np.asarray(key_data).tobytes()
            self.dropout_keys[raw] = self.dropout_keys.get(raw, 0) + 1
            self.dropout_sites.setdefault(raw, site)

    # ----------------------------------------------------------------- host calls
    def log(self, loss: Any = None, val_loss: Any = None, step: int | None = None) -> None:
        """Record the training loss of this step and/or a validation loss. Device arrays are
        kept and read back together every `every` calls, so logging costs no sync per step."""
        if loss is not None:
            self._pending_losses.append((self.losses_logged if step is None else step, loss))
            self.losses_logged += 1
            if len(self._pending_losses) >= self.every:
                self._flush_losses(ready_only=len(self._pending_losses) < PENDING_LOSSES_FACTOR * self.every)
        if val_loss is not None:
            self._flush_losses()
            with self.faults.guard("validation loss"):
                at = step if step is not None else max(self.losses_logged - 1, 0)
                self.recorder.eval_loss(at, _scalar(val_loss))
        self.maybe_judge()

    def _flush_losses(self, ready_only: bool = False) -> None:
        """Read the kept losses on the host. `ready_only`: only those already computed (in
        step order), so that logging never waits for a step still running: reading the
        newest loss would stop the host from preparing the next step meanwhile."""
        pending = self._pending_losses
        keep = len(pending)
        if ready_only:
            keep = next((i for i, (_, value) in enumerate(pending) if not _ready(value)), len(pending))
        pending, self._pending_losses = pending[:keep], pending[keep:]
        with self.faults.guard("training loss"):
            for step, value in pending:
                self.recorder.loss(step, _scalar(value))
        self._locate_non_finite()

    def _locate_non_finite(self) -> None:
        """Decide where the first NaN/Inf began — in the loss (forward) or only in the
        gradients — and, in run mode, replay that step under jax_debug_nans to name the
        first primitive that produced it. Runs on the host, outside the training step."""
        recorder = self.recorder
        if recorder.non_finite["found"]:
            return
        if recorder.first_non_finite_loss_step is not None and self.pull_statistics is not None:
            self.pull_statistics()  # the gradients of the steps before the loss went bad
        loss_step, grads = recorder.first_non_finite_loss_step, self.worst_grad_leaf
        if loss_step is None and grads is None:
            return
        if loss_step is not None and (grads is None or loss_step <= grads[0]):
            step, origin = loss_step, {"origin": "loss", "module": None, "trigger": "loss",
                                       "detail": "the training loss became NaN/Inf"}
        else:
            step, name, count, names = grads
            origin = {"origin": "gradient", "module": name, "trigger": "gradients", "parameters": names,
                      "detail": f"NaN gradients in {count} parameter(s) while the loss was finite, first '{name}'"}
        if self.largest_parameter is not None:
            origin["largest_input"] = self.largest_parameter
        if self.replay is not None:
            with self.faults.guard("non-finite replay"):
                found = self.replay() or {}
                if origin["origin"] == "gradient" and found.get("origin") in ("loss", "activation"):
                    found["origin"] = "gradient"  # the forward was finite: the NaN is in the backward pass
                origin.update(found)
        recorder.non_finite_origin(step, **origin)

    def maybe_judge(self) -> None:
        # Judge every couple of seconds, but never spend more than ~1% of the run on it:
        # on a small model a judgement costs as much as dozens of training steps.
        now = time.monotonic()
        if now < self._next_judge or not self.judge.due():
            return
        report = None
        try:
            report = self.judge.judge([self.measurements()])
        except Exception as error:  # noqa: BLE001
            self.faults.record("rule evaluation", error, self.losses_logged)
        self._next_judge = now + max(JUDGE_INTERVAL_SECONDS, JUDGE_COST_FACTOR * (time.monotonic() - now))
        if report is not None:
            self.judge.announce(report)  # may raise StopRun (--stop-on)

    def parameter_status(self) -> list[dict[str, Any]]:
        """Per leaf over the sampled updates: a gradient that was exactly zero every time
        (cut by stop_gradient, an unused layer) and updates that never moved it."""
        compared = self.param_samples >= 2
        rows = []
        for name, shape in zip(self.names, self.shapes):
            if name not in self.leaf_nonzero_grad:
                continue
            moved = self.leaf_moved[name]
            discarded = moved and compared and not self.leaf_param_changed.get(name, False)
            row = {"name": name, "shape": list(shape), "numel": int(np.prod(shape)), "trainable": True,
                   "in_optimizer": None, "got_grad": True, "grad_all_zero": not self.leaf_nonzero_grad[name],
                   "changed": moved and not discarded}
            if compared:
                row["checked_updates"] = self.param_samples - 1
            if discarded:
                row.update(update_discarded=True, optimizer_step_stuck=self.stuck_step_samples > 0)
            rows.append(row)
        return rows

    def measurements(self) -> Measurements:
        self._locate_non_finite()
        with self._lock:
            m = Measurements(framework="jax", **self.recorder.measurements())
            if self.leaf_nonzero_grad:
                m["parameter_status"] = self.parameter_status()
            m["steps_observed"] = max(self.recorder.updates, self.losses_logged)
            m["internal_faults"] = self.faults.as_list()
            if self.dropout_keys:
                raw, uses = max(self.dropout_keys.items(), key=lambda item: item[1])
                m["dropout_keys"] = {"masks": sum(self.dropout_keys.values()), "distinct_keys": len(self.dropout_keys),
                                     "most_uses_of_one_key": uses, "where": self.dropout_sites.get(raw)}
        if m.get("grad_norm_global") is None and not self.recorder.updates and self.losses_logged:
            for name in ("grad_norm_global", "grad_norm_per_layer", "parameter_status"):
                m.mark_unavailable(name, "no optimizer statistics arrived: with mode='aux' (the default) pass "
                                         "opt_state=... to tx.log(...) (nnx: optimizer.opt_state)")
        if not self.recorder.updates:
            for name in ("update_ratio_per_layer", "weight_norm_per_layer"):
                if m.get(name) is None and name not in m.unavailable:
                    m.mark_unavailable(name, "no optimizer update was observed")
        CAPABILITY.explain_absent(m)
        return m

    def finish(self) -> Report:
        if self.finished is not None:
            return self.finished
        jax.effects_barrier()  # every statistic sent from device code has arrived
        self._flush_losses()
        try:
            m = self.measurements()
        except Exception as error:  # noqa: BLE001
            self.faults.record("final measurements", error, self.losses_logged)
            m = Measurements(framework="jax", internal_faults=self.faults.as_list())
        report = self.judge.final(self.judge.judge([m]))
        report.context.update(self.context)
        add_series(report, [m])
        report.context.update({"steps_observed": m.get("steps_observed", 0), "every": self.every,
                               "backwards_observed": self.recorder.updates})
        self.finished = report
        return report
