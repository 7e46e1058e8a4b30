"""DynamicsMonitor: bounded statistics of a live training run, for the dynamics rules.

The runner (nndoctor.torch.watch) calls, for every optimizer/manual update `step`
(0-based count of completed updates):

    on_loss(loss, step)        for each training loss, BEFORE loss.backward() runs
    on_before_update(step)     gradients final, parameters not yet updated
    on_after_update(step)      parameters updated
    on_eval_loss(value, step)  for validation losses (several calls at one step are averaged)

Cost model. Every step: the loss value is read (one scalar, needed for the loss curve and
for NaN detection) and one reference to the model's input is kept. Every `every`-th step
("sampled step") the monitor also: walks the loss's autograd graph for ReLU/tanh/sigmoid
outputs, records the output RMS of each parameterised layer with forward hooks that exist
only during that step's forward, takes per-parameter gradient and weight L2 norms with
`torch._foreach_norm`, snapshots the weight matrices before the update to measure the
update size, and reads everything back with ONE host sync (`_Batch.flush`). Memory is
bounded: every series is a `BoundedSeries`.

Measurements returned by `measurements()` (plain Python; `series` = BoundedSeries.to_dict():
{"count", "head": [[step, value]...], "recent": [[step, value]...],
 "history": [[first_step, last_step, count, mean, min, max]...]}):

    dynamics_every: int                 sampling period
    dynamics_updates: int               updates observed
    loss_series: series | None          every training loss (finite values only)
    eval_loss_series: series | None     validation loss per step (mean of that step's calls)
    grad_norm_global: series | None     global gradient L2 norm, sampled steps
    grad_norm_per_layer: {param: series} | None
    weight_norm_per_layer: {param: series} | None
    update_ratio_per_layer: {param: series} | None   ||w_after - w_before|| / ||w_before||,
                                        weight matrices only (kind "weight")
    parameter_kinds: {param: {"kind", "module_type", "shape", "order"}} trainable params;
        kind: "weight" (>=2-D, not embedding/norm), "embedding", "norm", "bias", "vector"
    activation_stats: {key: {"kind": relu|tanh|sigmoid, "after": layer|None, "hidden": bool,
        "order": int, "units": int|None, "dead_share": series|None (per window of
        `dead_window_samples` sampled batches), "saturated_share": series|None,
        "mean_abs_input": series|None}} | None
    activation_rms: {"profiles": [{"step", "layers": [...], "rms": [...]}]} | None
        output RMS of each parameterised layer in forward order, sampled steps
    non_finite: {"found": bool, "step", "origin": input|parameter|gradient|statistics|activation|
        loss|eval|unknown, "module", "detail", "parameters", "loss_steps_non_finite",
        "eval_losses_non_finite", "grad_steps_non_finite", "first_grad_step"}
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from nndoctor.core.activation_regions import DEAD_WINDOW_MIN_ROWS, DEAD_WINDOW_SAMPLES
from nndoctor.torch.dynamics.activations import InactiveStreaks, sample_activations
from nndoctor.torch.dynamics.nonfinite import localise
from nndoctor.live.series import BoundedSeries, small_series

_NORM_TYPES = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm)
_EMBEDDING_TYPES = (nn.Embedding, nn.EmbeddingBag)
# Snapshot at most this many weight elements per sampled step (round-robin beyond): the
# update ratio needs the old weights, and a copy of a billion-parameter model is not cheap.
SNAPSHOT_BUDGET_ELEMENTS = 8_000_000
MIN_PARTIAL_WINDOW_SAMPLES = 3
RMS_PROFILES_HEAD, RMS_PROFILES_RECENT = 4, 16
FLOAT32_MAX = float(torch.finfo(torch.float32).max)
REFRESH_EVERY_SAMPLES = 50  # re-read the model's parameters/layers now and then, not every sample
# The names `DynamicsMonitor.measurements()` returns (the run's capability is built from them).
MEASUREMENTS = ("dynamics_every", "dynamics_updates", "loss_series", "eval_loss_series", "grad_norm_global",
                "grad_norm_per_layer", "weight_norm_per_layer", "update_ratio_per_layer", "parameter_kinds",
                "activation_stats", "activation_rms", "non_finite")


class _Batch:
    """Device tensors waiting to be read back together: one host sync per flush."""

    def __init__(self) -> None:
        self.tensors: list[torch.Tensor] = []
        self.consumers: list[tuple[int, Callable[[list[float]], None]]] = []

    def add(self, tensor: torch.Tensor, consumer: Callable[[list[float]], None]) -> None:
        flat = tensor.detach().reshape(-1).float()
        self.tensors.append(flat)
        self.consumers.append((flat.numel(), consumer))

    def flush(self) -> None:
        if not self.tensors:
            return
        devices = {t.device for t in self.tensors}
        tensors = self.tensors if len(devices) == 1 else [t.cpu() for t in self.tensors]
        values = torch.cat(tensors).tolist()
        consumers, self.tensors, self.consumers = self.consumers, [], []
        start = 0
        for size, consumer in consumers:
            consumer(values[start:start + size])
            start += size


def _contained(source: str) -> Callable:
    """Run a monitor entry point so that a fault inside nndoctor never reaches the
    training script: it is recorded in `faults` (once per source and exception type)."""
    def wrap(method: Callable) -> Callable:
        def run(self: DynamicsMonitor, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as error:  # noqa: BLE001 — containment is the point
                self._fault(source, error, args[-1] if args and isinstance(args[-1], int) else None)
                return None
        run.__name__, run.__doc__ = method.__name__, method.__doc__
        return run
    return wrap


def _contained_hook(monitor: DynamicsMonitor, source: str) -> Callable:
    def wrap(hook: Callable) -> Callable:
        def run(*args: Any) -> None:
            try:
                hook(*args)
            except Exception as error:  # noqa: BLE001 — a hook must never break the forward
                monitor._fault(source, error, None)
        return run
    return wrap


class _Param:
    __slots__ = ("name", "param", "kind", "module_type", "order")

    def __init__(self, name: str, param: nn.Parameter, kind: str, module_type: str, order: int) -> None:
        self.name, self.param, self.kind, self.module_type, self.order = name, param, kind, module_type, order


def _series_for(store: dict[str, BoundedSeries], name: str) -> BoundedSeries:
    series = store.get(name)
    if series is None:
        series = store[name] = small_series()
    return series


def _overflowed_norms_as_max(values: list[float], tensors: list[torch.Tensor | None]) -> list[float]:
    """A norm is Inf either because the tensor holds NaN/Inf or because squaring its huge
    but finite values overflowed float32 (|x| > ~1e19). Only the first is non-finite; the
    second is recorded as the largest float32, which every growth threshold counts as huge."""
    suspects = [i for i, v in enumerate(values) if not math.isfinite(v) and tensors[i] is not None]
    if not suspects:
        return values
    checks = [tensors[i].detach() for i in suspects]
    checks = [t.coalesce().values() if t.is_sparse else t for t in checks]
    finite = torch.stack([torch.isfinite(t).all() for t in checks]).tolist()
    values = list(values)
    for index, is_finite in zip(suspects, finite):
        if is_finite:
            values[index] = FLOAT32_MAX
    return values


def _classify(module: nn.Module, leaf_name: str, param: torch.Tensor) -> str:
    if isinstance(module, _EMBEDDING_TYPES):
        return "embedding"
    if isinstance(module, _NORM_TYPES) or type(module).__name__.endswith("Norm"):
        return "norm"
    if param.dim() >= 2:
        return "weight"
    return "bias" if "bias" in leaf_name else "vector"


class _Activation:
    """Running record of one ReLU/tanh/sigmoid across sampled steps."""

    def __init__(self, kind: str, after: str | None, hidden: bool, order: int) -> None:
        self.kind, self.after, self.hidden, self.order = kind, after, hidden, order
        self.ever_active: torch.Tensor | None = None
        self.window_samples = 0
        self.window_rows = 0
        self.units: int | None = None
        self.dead_share = small_series() if kind == "relu" else None
        self.streaks = InactiveStreaks() if kind == "relu" else None
        self.saturated = small_series() if kind != "relu" else None
        self.mean_abs_input = small_series() if kind != "relu" else None


class DynamicsMonitor:
    """Bounded statistics of one model's training; see the module docstring for the events
    it expects, what it costs and the measurements it returns.

    Faults inside the monitor (in its entry points and hooks) are appended to `faults`
    and never raised into the training script. `close()` removes every hook it added.
    """

    def __init__(self, model: nn.Module, *, every: int = 10, faults: list[dict]) -> None:
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of steps, got {every!r}")
        self.model = model
        self.every = int(every)
        self.faults = faults
        self._params: list[_Param] = []
        self._param_names: dict[int, str] = {}
        self._refresh_params()
        self._samples = 0
        self._rms_layer_list: list[tuple[str, nn.Module]] | None = None
        self._cpu_loss = True
        self._updates = 0
        self._loss = BoundedSeries()
        self._eval = BoundedSeries()
        self._eval_pending: list[float] = []  # [step, sum, n]
        self._pending_losses: list[tuple[int, torch.Tensor]] = []
        self._grad_global = BoundedSeries(head_size=16, recent_size=64, max_buckets=64)
        self._grad: dict[str, BoundedSeries] = {}
        self._weight: dict[str, BoundedSeries] = {}
        self._update: dict[str, BoundedSeries] = {}
        self._batch = _Batch()
        self._snapshot: tuple[int, list[_Param], list[torch.Tensor], torch.Tensor] | None = None
        self._snapshot_cursor = 0
        self._activations: dict[str, _Activation] = {}
        self._rms_head: list[dict[str, Any]] = []
        self._rms_recent: deque[dict[str, Any]] = deque(maxlen=RMS_PROFILES_RECENT)
        self._rms_calls: dict[str, list[torch.Tensor]] = {}
        self._rms_handles: list[Any] = []
        self._walked_step: int | None = None
        self._captured: tuple[tuple, dict] | None = None
        self._captured_step: int | None = None  # the step whose loss the captured input produced
        self._seen_finite_loss = False
        self._non_finite: dict[str, Any] = {
            "found": False, "loss_steps_non_finite": 0, "eval_losses_non_finite": 0,
            "grad_steps_non_finite": 0, "first_grad_step": None,
        }
        self._closed = False
        self._input_handle = model.register_forward_pre_hook(self._capture_input, with_kwargs=True)
        self._arm_rms_hooks()

    # ----------------------------------------------------------------- parameters
    def _refresh_params(self) -> None:
        owners = {}
        for module in self.model.modules():
            for leaf, param in module.named_parameters(recurse=False):
                owners.setdefault(id(param), (module, leaf))
        self._params = []
        for order, (name, param) in enumerate(self.model.named_parameters()):
            module, leaf = owners[id(param)]
            self._params.append(_Param(name, param, _classify(module, leaf, param), type(module).__name__, order))
        self._param_names = {id(p.param): p.name for p in self._params}

    # ----------------------------------------------------------------- events
    @_contained("dynamics monitor (loss)")
    def on_loss(self, loss: torch.Tensor, step: int) -> None:
        self._captured_step = step
        if loss.is_cpu and loss.numel() == 1:
            self._record_loss(step, loss.item())  # every step: the cheapest read there is
        else:
            detached = loss.detach()
            if detached.numel() != 1:
                detached = detached.float().mean()
            if detached.is_cpu:
                self._record_loss(step, float(detached))
            else:
                self._cpu_loss = False
                self._pending_losses.append((step, detached.float()))
                if len(self._pending_losses) >= 4 * self.every:
                    self._flush_losses()
                    self._batch.flush()
        if step % self.every == 0 and self._walked_step != step:  # `_sampled`, inlined (every step)
            self._walked_step = step
            self._disarm_rms_hooks()
            self._sample_activations(loss, step)

    def _record_loss(self, step: int, value: float) -> None:
        if math.isfinite(value):
            self._loss.add(step, value)
            self._seen_finite_loss = True
            return
        self._non_finite["loss_steps_non_finite"] += 1
        if not self._non_finite["found"]:
            self._locate_non_finite(step, "loss" if step == self._captured_step else "late loss")

    def _flush_losses(self) -> None:
        """Queue the losses kept on the accelerator into the batch read (same host sync)."""
        if not self._pending_losses:
            return
        pending, self._pending_losses = self._pending_losses, []

        def record(values: list[float]) -> None:
            for (step, _), value in zip(pending, values):
                self._record_loss(step, value)
        self._batch.add(torch.stack([t for _, t in pending]), record)

    @_contained("dynamics monitor (eval loss)")
    def on_eval_loss(self, value: float, step: int) -> None:
        value = float(value)
        if not math.isfinite(value):
            self._non_finite["eval_losses_non_finite"] += 1
            if not self._non_finite["found"]:
                self._non_finite.update(found=True, step=step, origin="eval", module=None,
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

    @_contained("dynamics monitor (gradients)")
    def on_before_update(self, step: int) -> None:
        if step % self.every:  # not a sampled step (`_sampled`, inlined: every step)
            return
        self._samples += 1
        if self._samples % REFRESH_EVERY_SAMPLES == 0:
            self._refresh_params()  # lazy modules, layers added during training
        # frozen parameters (requires_grad=False) are neither slow nor fast: not trained
        entries = [p for p in self._params if p.param.requires_grad and p.param.grad is not None]
        if not entries:
            return
        grads = [p.param.grad for p in entries]
        dense = [g if not g.is_sparse else g.coalesce().values() for g in grads]
        grad_norms = torch.stack(torch._foreach_norm(dense))
        weight_norms = torch.stack(torch._foreach_norm([p.param.detach() for p in entries]))
        self._batch.add(grad_norms, lambda values: self._record_grads(step, entries, values))
        self._batch.add(weight_norms, lambda values: self._record_weights(step, entries, values))
        chosen = self._choose_snapshot([p for p in entries if p.kind == "weight"])
        if chosen:
            by_name = {p.name: i for i, p in enumerate(entries)}
            before_norms = weight_norms[[by_name[p.name] for p in chosen]]
            copies = torch._foreach_mul([p.param.detach() for p in chosen], 1.0)
            self._snapshot = (step, chosen, copies, before_norms)

    def _choose_snapshot(self, weights: list[_Param]) -> list[_Param]:
        total = sum(p.param.numel() for p in weights)
        if total <= SNAPSHOT_BUDGET_ELEMENTS:
            return weights
        chosen, used = [], 0
        for offset in range(len(weights)):
            p = weights[(self._snapshot_cursor + offset) % len(weights)]
            if used + p.param.numel() > SNAPSHOT_BUDGET_ELEMENTS and chosen:
                break
            chosen.append(p)
            used += p.param.numel()
        self._snapshot_cursor = (self._snapshot_cursor + len(chosen)) % len(weights)
        return chosen

    @_contained("dynamics monitor (updates)")
    def on_after_update(self, step: int) -> None:
        self._updates += 1
        if self._snapshot is not None and self._snapshot[0] == step:
            _, chosen, copies, before_norms = self._snapshot
            self._snapshot = None
            torch._foreach_sub_(copies, [p.param.detach() for p in chosen])
            change = torch.stack(torch._foreach_norm(copies))
            names = [p.name for p in chosen]
            self._batch.add(torch.stack([change, before_norms]),
                            lambda values: self._record_updates(step, names, values))
        if not self._cpu_loss and step % self.every == 0:
            self._flush_losses()
        if self._batch.tensors:
            self._batch.flush()
        self._captured = None  # do not keep the batch alive longer than one step
        if (step + 1) % self.every == 0:
            self._arm_rms_hooks()

    # ----------------------------------------------------------------- recorders
    def _record_grads(self, step: int, entries: list[_Param], values: list[float]) -> None:
        values = _overflowed_norms_as_max(values, [p.param.grad for p in entries])
        total = 0.0
        finite = True
        for entry, value in zip(entries, values):
            if math.isfinite(value):
                _series_for(self._grad, entry.name).add(step, value)
                total += value * value
            else:
                finite = False
        if finite:
            self._grad_global.add(step, math.sqrt(total))
        else:
            self._non_finite["grad_steps_non_finite"] += 1
            if self._non_finite["first_grad_step"] is None:
                self._non_finite["first_grad_step"] = step

    def _record_weights(self, step: int, entries: list[_Param], values: list[float]) -> None:
        values = _overflowed_norms_as_max(values, [p.param for p in entries])
        for entry, value in zip(entries, values):
            if math.isfinite(value):
                _series_for(self._weight, entry.name).add(step, value)
            elif not self._non_finite["found"]:
                self._locate_non_finite(step, "weights")

    def _record_updates(self, step: int, names: list[str], values: list[float]) -> None:
        half = len(values) // 2
        for name, change, before in zip(names, values[:half], values[half:]):
            if before > 0 and math.isfinite(change) and math.isfinite(before):
                _series_for(self._update, name).add(step, change / before)

    # ----------------------------------------------------------------- activations
    def _sample_activations(self, loss: torch.Tensor, step: int) -> None:
        self._finish_rms_profile(step)
        try:
            samples = sample_activations(loss, self._param_names)
        except RuntimeError as error:
            if "freed" in str(error) or "backward through the graph" in str(error):
                return  # on_loss came after backward: the saved outputs are gone
            raise
        for sample in samples:
            record = self._activations.get(sample.key)
            if record is None:
                record = self._activations[sample.key] = _Activation(
                    sample.kind, sample.after, sample.hidden, sample.order)
            record.hidden = record.hidden and sample.hidden
            if sample.kind == "relu" and sample.ever_active is not None:
                self._accumulate_relu(record, sample.ever_active, sample.rows, step)
            elif sample.saturated is not None:
                self._batch.add(torch.stack([sample.saturated, sample.mean_abs_input]),
                                lambda values, r=record: (r.saturated.add(step, values[0]),
                                                          r.mean_abs_input.add(step, values[1])))

    def _accumulate_relu(self, record: _Activation, active: torch.Tensor, rows: int, step: int) -> None:
        if record.ever_active is None or record.ever_active.shape != active.shape:
            record.ever_active, record.window_samples, record.window_rows = active, 0, 0
        else:
            record.ever_active = record.ever_active | active
        record.units = int(active.numel())
        record.streaks.add(active, rows, step)
        record.window_samples += 1
        record.window_rows += rows
        # A window spans 8 sampled batches and at least 64 samples: with a batch of one, a
        # healthy unit is off for 8 samples in a row 1 time in 256.
        if record.window_samples >= DEAD_WINDOW_SAMPLES and record.window_rows >= DEAD_WINDOW_MIN_ROWS:
            dead = (~record.ever_active).float().mean()
            self._batch.add(dead, lambda values, r=record: r.dead_share.add(step, values[0]))
            record.ever_active, record.window_samples, record.window_rows = None, 0, 0

    # ----------------------------------------------------------------- RMS by depth
    def _rms_layers(self) -> list[tuple[str, nn.Module]]:
        if self._rms_layer_list is None or self._samples % REFRESH_EVERY_SAMPLES == 0:
            self._rms_layer_list = self._find_rms_layers()
        return self._rms_layer_list

    def _find_rms_layers(self) -> list[tuple[str, nn.Module]]:
        layers = []
        for name, module in self.model.named_modules():
            if isinstance(module, _EMBEDDING_TYPES) or isinstance(module, _NORM_TYPES):
                continue
            if next(module.children(), None) is not None:
                continue
            if any(p.dim() >= 2 for p in module.parameters(recurse=False)):
                layers.append((name or type(module).__name__, module))
        return layers

    def _arm_rms_hooks(self) -> None:
        self._disarm_rms_hooks()
        self._rms_calls = {}
        for name, module in self._rms_layers():
            self._rms_handles.append(module.register_forward_hook(self._rms_hook(name)))

    def _rms_hook(self, name: str) -> Callable[..., None]:
        @_contained_hook(self, f"dynamics monitor (activation hook on {name})")
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            if not (module.training and torch.is_grad_enabled()):
                return
            tensor = output[0] if isinstance(output, (tuple, list)) and output else output
            if isinstance(tensor, torch.Tensor) and tensor.is_floating_point() and tensor.numel():
                detached = tensor.detach()
                rms = torch.linalg.vector_norm(detached, dtype=torch.float32) / math.sqrt(detached.numel())
                self._rms_calls.setdefault(name, []).append(rms)
        return hook

    def _disarm_rms_hooks(self) -> None:
        for handle in self._rms_handles:
            handle.remove()
        self._rms_handles = []

    def _finish_rms_profile(self, step: int) -> None:
        calls, self._rms_calls = self._rms_calls, {}
        if not calls:
            return
        names = list(calls)
        means = torch.stack([torch.stack(values).mean() for values in calls.values()])

        def record(values: list[float]) -> None:
            profile = {"step": step, "layers": names, "rms": values}
            if len(self._rms_head) < RMS_PROFILES_HEAD:
                self._rms_head.append(profile)
            else:
                self._rms_recent.append(profile)
        self._batch.add(means, record)

    # ----------------------------------------------------------------- non-finite
    # Not wrapped in `_contained`: it runs at every forward and cannot raise.
    def _capture_input(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if torch.is_grad_enabled():
            self._captured, self._captured_step = (args, kwargs), None

    def _locate_non_finite(self, step: int, trigger: str) -> None:
        named = [(p.name, p.param) for p in self._params]  # frozen ones can hold a NaN too
        # Only the batch of this very loss can be replayed: on accelerators losses are read
        # in bulk at sampled steps ("late loss"), when that batch is gone.
        captured = self._captured if trigger == "loss" else None
        origin = localise(self.model, captured, named, self._seen_finite_loss)
        if trigger == "weights" and origin["origin"] == "unknown":
            origin = {"origin": "unknown", "module": None, "detail": "parameters turned non-finite"}
        self._non_finite.update(found=True, step=step, trigger=trigger, **origin)

    def _fault(self, source: str, error: BaseException, step: int | None) -> None:
        for fault in self.faults:
            if fault.get("source") == source and fault.get("exception") == type(error).__name__:
                fault["count"] = fault.get("count", 1) + 1
                return
        self.faults.append({"source": source, "exception": type(error).__name__,
                            "detail": str(error)[:300], "step": step, "count": 1})

    # ----------------------------------------------------------------- results
    def measurements(self) -> dict[str, Any]:
        """The names of MEASUREMENTS, each a plain value or None when not seen."""
        self._flush_losses()
        self._batch.flush()
        if self._eval_pending:
            self._close_eval()
        activation_stats = {}
        for key, record in sorted(self._activations.items(), key=lambda item: item[1].order):
            dead = record.dead_share.to_dict() if record.dead_share is not None else None
            if dead is not None and dead["count"] == 0 and record.window_samples >= MIN_PARTIAL_WINDOW_SAMPLES:
                partial = small_series()
                partial.add(self._walked_step or 0, float((~record.ever_active).float().mean()))
                dead = partial.to_dict()
            activation_stats[key] = {
                "kind": record.kind, "after": record.after, "hidden": record.hidden,
                "order": record.order, "units": record.units, "dead_share": dead,
                "inactive_streaks": record.streaks.to_dict() if record.streaks is not None else None,
                "saturated_share": record.saturated.to_dict() if record.saturated else None,
                "mean_abs_input": record.mean_abs_input.to_dict() if record.mean_abs_input else None,
            }
        profiles = [*self._rms_head, *self._rms_recent]
        return {
            "dynamics_every": self.every,
            "dynamics_updates": self._updates,
            "loss_series": self._loss.to_dict() if self._loss.count else None,
            "eval_loss_series": self._eval.to_dict() if self._eval.count else None,
            "grad_norm_global": self._grad_global.to_dict() if self._grad_global.count else None,
            "grad_norm_per_layer": {n: s.to_dict() for n, s in self._grad.items()} or None,
            "weight_norm_per_layer": {n: s.to_dict() for n, s in self._weight.items()} or None,
            "update_ratio_per_layer": {n: s.to_dict() for n, s in self._update.items()} or None,
            "parameter_kinds": {
                p.name: {"kind": p.kind, "module_type": p.module_type,
                         "shape": list(p.param.shape), "order": p.order}
                for p in self._params if p.param.requires_grad
            },
            "activation_stats": activation_stats or None,
            "activation_rms": {"profiles": [dict(p) for p in profiles]} if profiles else None,
            "non_finite": dict(self._non_finite),
        }

    def close(self) -> None:
        """Remove every hook this monitor added and drop references to the model's tensors."""
        if self._closed:
            return
        self._closed = True
        self._disarm_rms_hooks()
        self._input_handle.remove()
        self._captured = None
        self._snapshot = None
