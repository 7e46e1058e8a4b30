"""The watching session: sees an unchanged training loop from inside.

How it sees, without edits to the user's code and without per-op Python:
* `torch.Tensor.backward` and `torch.autograd.backward` are wrapped (and restored): the
  tensor backward is called on is the training loss; the wrapper notes gradients before
  and after.
* Global optimizer step pre/post hooks: updates, the moment gradients are final, and
  which parameters each optimizer owns.
* Global module forward hooks, only while discovering models (removed once the models
  are known): the outermost module called with gradients enabled whose parameters then
  receive gradients is a training model. Each model keeps one cheap forward pre-hook of
  its own: a forward with gradients disabled is an evaluation pass.
* The torch.nn.functional losses (which the nn loss modules call too) are wrapped: the
  first calls and then sampled ones are described for the loss rules; losses computed
  with gradients disabled are validation losses.
* Manual updates (`p.data.add_(-lr * p.grad)`) are noticed between two backwards by a
  change in a couple of sentinel parameters when no optimizer stepped.

Every handler is contained: a fault is recorded for the `internal-error` rule and the
user's program continues exactly as it would without nndoctor.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks

from nndoctor.core.report import Report
from nndoctor.core.rule import Measurements
from nndoctor.torch.loss_calls import LOSS_KINDS, describe_loss_call
from nndoctor.torch.watch.eval_mode import MAX_NAMES, training_mode_names
from nndoctor.torch.watch.faults import FaultLog, StopRun
from nndoctor.torch.watch.judge import Judge
from nndoctor.torch.watch.losses import (
    call_relaying_warnings, loss_target_tensor, may_warn, mean_loss_value, user_frame,
)
from nndoctor.torch.watch.models import OptimizerInfo, WatchedModel
from nndoctor.torch.watch.params import ParameterTracker
from nndoctor.torch.watch.stale_grads import StaleGradTracker

MAX_LOSS_CALLS = 60
MAX_EVENTS = 20
# Loss calls described in full at the start of the run, per gradient mode; later ones
# only on sampled steps (describing reads the autograd graph and the call site).
FIRST_DESCRIBED_CALLS = 3
DISCOVERY_MAX_BACKWARDS = 50
_active: Session | None = None


def active_session() -> Session | None:
    return _active


class Session:
    def __init__(
        self,
        *,
        every: int = 10,
        select: Any = None,
        ignore: Any = None,
        thresholds: dict[str, dict[str, Any]] | None = None,
        live: bool = True,
        stop_on: str | None = None,
        stream: Any = None,
        discover: bool = True,
        command: str = "run",
    ) -> None:
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.every = every
        self.discover = discover
        self.judge = Judge(select=select, ignore=ignore, thresholds=thresholds, live=live,
                           stop_on=stop_on, stream=stream, command=command)
        self.faults = FaultLog()
        self.step = 0
        self.models: dict[int, WatchedModel] = {}
        self.param_owner: dict[int, WatchedModel] = {}
        self.optimizers: dict[int, OptimizerInfo] = {}
        self.stale = StaleGradTracker()
        self.loss_calls: list[dict[str, Any]] = []
        self.stale_grad_updates: list[dict[str, Any]] = []
        self.stale_update_count = 0
        self.no_grad_forwards: list[dict[str, Any]] = []
        self.no_grad_forward_count = 0
        self.initial_loss: dict[str, Any] | None = None
        self.context: dict[str, Any] = {}
        self.backwards = 0
        self.stale_checks = 0
        self.suspended = 0
        self.installed = False
        self.preflight_request: Any = None
        self._models_version = 0
        self._in_backward = False
        self._in_loss = False
        self._step_depth = 0
        self._current_info: OptimizerInfo | None = None
        self._backwards_in_step = 0
        self._stepped_since_backward = False
        self._manual_pending = False
        self._depth = 0
        self._candidates: dict[int, nn.Module] = {}
        self._provisional: list[tuple[WatchedModel, list[torch.Tensor]]] = []
        self._last_loss_output: torch.Tensor | None = None
        self._grad_loss_calls = 0
        self._initial_tried = False
        self._candidate_inputs: dict[int, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self._described = {True: 0, False: 0}
        self._described_step = -1
        self._last_loss_call: dict[str, Any] | None = None
        self._eval_sum = 0.0
        self._eval_count = 0
        self._handles: list[Any] = []
        self._discovery_handles: list[Any] = []
        self._originals: dict[str, Any] = {}
        self._monitor_class: Any = None
        # The dynamics monitors append contained faults of their own here (TORCH contract).
        self._fault_list: list[dict[str, Any]] = []
        self._initial_loss_record: Any = None

    # ------------------------------------------------------------------ install / remove
    def install(self) -> Session:
        global _active
        if _active is not None:
            raise RuntimeError("another nndoctor watch session is already active")
        _active = self
        self._monitor_class = self._optional("nndoctor.torch.dynamics.monitor", "DynamicsMonitor")
        self._initial_loss_record = self._optional("nndoctor.torch.expectations", "initial_loss_record")
        self._patch_backward()
        self._patch_losses()
        self._handles.append(optimizer_hooks.register_optimizer_step_pre_hook(self._on_step_pre))
        self._handles.append(optimizer_hooks.register_optimizer_step_post_hook(self._on_step_post))
        if self.discover:
            self._start_discovery()
        self.installed = True
        return self

    def _optional(self, module_name: str, attribute: str) -> Any:
        import importlib

        try:
            return getattr(importlib.import_module(module_name), attribute)
        except ImportError:
            return None
        except Exception as error:  # noqa: BLE001 — a broken sibling module is contained
            self.faults.record(f"import of {module_name}", error, None)
            return None

    def uninstall(self) -> None:
        global _active
        if not self.installed:
            return
        self.installed = False
        for handle in self._handles + self._discovery_handles:
            handle.remove()
        self._handles.clear()
        self._discovery_handles.clear()
        for watched in self.models.values():
            if watched.hook_handle is not None:
                watched.hook_handle.remove()
                watched.hook_handle = None
            if watched.monitor is not None:
                with self.faults.guard("dynamics monitor", self.step):
                    watched.monitor.close()
        torch.Tensor.backward = self._originals.pop("tensor_backward")
        torch.autograd.backward = self._originals.pop("autograd_backward")
        for name, original in self._originals.items():
            setattr(F, name, original)
        self._originals.clear()
        self._candidates.clear()
        self._candidate_inputs.clear()
        self._last_loss_call = None
        self._last_loss_output = None
        self._provisional.clear()
        if _active is self:
            _active = None

    def _patch_backward(self) -> None:
        session = self
        tensor_backward = torch.Tensor.backward
        autograd_backward = torch.autograd.backward
        self._originals["tensor_backward"] = tensor_backward
        self._originals["autograd_backward"] = autograd_backward

        def backward(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            handled = session._before_backward(self)
            try:
                result = tensor_backward(self, *args, **kwargs)
            except BaseException:
                if handled:
                    session._in_backward = False
                raise
            if handled:
                session._after_backward()
            return result

        def autograd_backward_wrapper(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
            handled = isinstance(first, torch.Tensor) and session._before_backward(first)
            try:
                result = autograd_backward(tensors, *args, **kwargs)
            except BaseException:
                if handled:
                    session._in_backward = False
                raise
            if handled:
                session._after_backward()
            return result

        backward.__wrapped__ = tensor_backward  # type: ignore[attr-defined]
        backward.__doc__ = tensor_backward.__doc__
        autograd_backward_wrapper.__wrapped__ = autograd_backward  # type: ignore[attr-defined]
        autograd_backward_wrapper.__doc__ = autograd_backward.__doc__
        torch.Tensor.backward = backward
        torch.autograd.backward = autograd_backward_wrapper

    def _patch_losses(self) -> None:
        for function_name, kind in LOSS_KINDS.items():
            original = getattr(F, function_name, None)
            if original is None:
                continue
            self._originals[function_name] = original
            setattr(F, function_name, self._wrap_loss(original, function_name, kind))

    def _wrap_loss(self, original: Any, function_name: str, kind: str) -> Any:
        session = self

        def watched_loss(*args: Any, **kwargs: Any) -> Any:
            if may_warn(kind, args, kwargs):
                output = call_relaying_warnings(original, args, kwargs, user_frame(sys._getframe(1)))
            else:
                output = original(*args, **kwargs)
            if not session.suspended and not session._in_loss:
                session._on_loss_call(function_name, kind, args, kwargs, output)
            return output

        watched_loss.__wrapped__ = original  # type: ignore[attr-defined]
        watched_loss.__doc__ = original.__doc__
        watched_loss.__name__ = original.__name__
        return watched_loss

    def _start_discovery(self) -> None:
        if self._discovery_handles:
            return
        self._depth = 0
        self._discovery_handles.append(
            module_hooks.register_module_forward_pre_hook(self._on_any_forward_pre))
        self._discovery_handles.append(
            module_hooks.register_module_forward_hook(self._on_any_forward_post, always_call=True))

    def _stop_discovery(self) -> None:
        for handle in self._discovery_handles:
            handle.remove()
        self._discovery_handles.clear()
        self._candidates.clear()
        self._candidate_inputs.clear()

    # ------------------------------------------------------------------------- models
    def add_model(self, module: nn.Module, label: str | None = None) -> WatchedModel:
        existing = self.models.get(id(module))
        if existing is not None:
            return existing
        base = label or type(module).__name__
        taken = {m.label for m in self.models.values()}
        label, number = base, 2
        while label in taken:
            label, number = f"{base}#{number}", number + 1
        watched = WatchedModel(module=module, label=label, tracker=ParameterTracker(module, label))
        watched.hook_handle = module.register_forward_pre_hook(self._model_forward_hook(watched),
                                                               with_kwargs=True)
        if self._monitor_class is not None:
            with self.faults.guard("dynamics monitor", self.step):
                watched.monitor = self._monitor_class(module, every=self.every, faults=self._fault_list)
        self.models[id(module)] = watched
        for param in watched.tracker.params:
            self.param_owner.setdefault(id(param), watched)
        self._models_version += 1
        return watched

    def _model_forward_hook(self, watched: WatchedModel) -> Any:
        session = self

        def hook(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            if session.suspended:
                return None
            if session._manual_pending:
                try:
                    session._detect_manual_update()  # count a manual update before this forward
                except StopRun:
                    raise
                except Exception as error:  # noqa: BLE001
                    session.faults.record("manual update check", error, session.step)
            if torch.is_grad_enabled():
                watched.forwarded = True
                if session.preflight_request is not None:
                    watched.last_inputs = (args, kwargs)
            else:
                try:
                    session._on_eval_forward(watched)
                except StopRun:
                    raise
                except Exception as error:  # noqa: BLE001
                    session.faults.record("evaluation-pass check", error, session.step)
            return None

        return hook

    def _on_any_forward_pre(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        if self._depth == 0 and not self.suspended and torch.is_grad_enabled():
            key = id(module)
            if key not in self.models and key not in self._candidates:
                self._candidates[key] = module
                if self.preflight_request is not None:
                    self._candidate_inputs[key] = (args, {})
        self._depth += 1

    def _on_any_forward_post(self, module: nn.Module, args: Any, output: Any) -> None:
        self._depth = max(self._depth - 1, 0)

    def _adopt_candidates(self) -> None:
        """Before a backward: outermost modules with trainable parameters forwarded since
        the last backward become models, provisionally (so the monitor sees this very
        loss); `_confirm_adopted` drops those whose parameters got no gradient."""
        for key, module in list(self._candidates.items()):
            params = [p for p in module.parameters() if p.requires_grad]
            if not params or all(id(p) in self.param_owner for p in params):
                continue
            watched = self.add_model(module)
            watched.forwarded = True
            inputs = self._candidate_inputs.get(key)
            if inputs is not None:
                watched.last_inputs = inputs
            self._provisional.append((watched, params))
        self._candidates.clear()
        self._candidate_inputs.clear()

    def _confirm_adopted(self) -> None:
        for watched, params in self._provisional:
            if not any(p.grad is not None for p in params):
                self._remove_model(watched)
        self._provisional.clear()

    def _remove_model(self, watched: WatchedModel) -> None:
        self.models.pop(id(watched.module), None)
        if watched.hook_handle is not None:
            watched.hook_handle.remove()
        if watched.monitor is not None:
            with self.faults.guard("dynamics monitor", self.step):
                watched.monitor.close()
        for param in watched.tracker.params:
            if self.param_owner.get(id(param)) is watched:
                del self.param_owner[id(param)]
        self._models_version += 1

    # ----------------------------------------------------------------------- backward
    def _before_backward(self, loss: torch.Tensor) -> bool:
        if self._in_backward or self.suspended or not self.installed:
            return False
        self._in_backward = True
        try:
            in_step = self._step_depth > 0
            if in_step:
                self._backwards_in_step += 1
            else:
                self._detect_manual_update()
                self.stale.before_backward()
                if self.step:
                    self.stale_checks += 1
            self._flush_eval_losses()
            if self._candidates:
                self._adopt_candidates()
            if not in_step or self._backwards_in_step == 1:
                self._on_training_loss(loss)
            if self.preflight_request is not None and (not in_step or self._backwards_in_step == 1):
                self.preflight_request.on_backward(self, loss)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("backward hook", error, self.step)
        return True

    def _after_backward(self) -> None:
        self._in_backward = False
        try:
            self.backwards += 1
            if self._provisional:
                self._confirm_adopted()
            if self._discovery_handles and self._discovery_complete():
                self._stop_discovery()
            for watched in self.models.values():
                watched.tracker.after_backward(self.every)
                if watched.manual and watched.forwarded and not self._step_depth:
                    self._prepare_manual_update(watched)
                watched.forwarded = False
            self.stale.after_backward()
            self._stepped_since_backward = False
            self._last_loss_call = None
            self._last_loss_output = None
            self._grad_loss_calls = 0
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("backward hook", error, self.step)
        self._maybe_judge()

    def _discovery_complete(self) -> bool:
        if self.backwards >= DISCOVERY_MAX_BACKWARDS:
            return True
        return bool(self.models) and self.step >= 1 and all(
            info.models for info in self.optimizers.values())

    def _on_training_loss(self, loss: torch.Tensor) -> None:
        if loss.numel() != 1:
            return
        output = self._last_loss_output
        if (output is not None and type(loss.grad_fn).__name__ == "MulBackward0"
                and any(node is output.grad_fn for node, _ in loss.grad_fn.next_functions)):
            loss = output  # GradScaler's `scaler.scale(loss)`: the monitor wants the loss itself
        forwarded = [w for w in self.models.values() if w.forwarded] or list(self.models.values())
        for watched in forwarded:
            if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                with self.faults.guard("dynamics monitor", self.step):
                    watched.monitor.on_loss(loss, self.step)
        if not self._initial_tried:
            self._initial_tried = True
            # Several loss terms (a GAN's real and fake parts): no single expectation applies.
            if self._last_loss_call is not None and self._grad_loss_calls == 1:
                with self.faults.guard("initial loss", self.step):
                    self._record_initial_loss(self._last_loss_call)

    def _record_initial_loss(self, call: dict[str, Any]) -> None:
        if self._initial_loss_record is None:
            return
        options = dict(call["kwargs"])
        output = call["output"].detach().float()
        if call["reduction"] == "none":
            value, options["reduction"] = float(output.mean()), "mean"
        else:
            value = float(output.sum())
        if math.isfinite(value):
            self.initial_loss = self._initial_loss_record(
                call["kind"], value, call["prediction"].detach(), call["target"], self.step, options)
            self.judge.dirty = True

    # ------------------------------------------------------------------ manual updates
    def _prepare_manual_update(self, watched: WatchedModel) -> None:
        tracker = watched.tracker
        if not watched.stale_keys:
            named = [(tracker.names[i], tracker.params[i]) for i in sorted(tracker.got_grad)]
            watched.stale_keys = self.stale.sample(named)
        tracker.grads_final(self.every)
        tracker.before_update(self.every)
        watched.snapshot_sentinels()
        self._manual_pending = True
        # Until a manual update has been seen, an optimizer may still claim this model at
        # its first step: the monitor hears "before update" from that step instead.
        if (watched.tracker.updates_seen and watched.monitor is not None
                and self.faults.enabled("dynamics monitor")):
            with self.faults.guard("dynamics monitor", self.step):
                watched.monitor.on_before_update(self.step)

    def _detect_manual_update(self) -> None:
        if not self._manual_pending or self._stepped_since_backward or self._step_depth:
            return
        updated = [w for w in self.models.values() if w.manual and w.sentinels_changed()]
        if not updated:
            return
        self._manual_pending = False
        for watched in updated:
            stale = self.stale.confirm(watched.stale_keys)
            if stale:
                self._record_stale(stale, "manual update", len(watched.stale_keys))
            watched.tracker.after_update()
            watched.clear_sentinels()
            if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                with self.faults.guard("dynamics monitor", self.step):
                    watched.monitor.on_after_update(self.step)
            self.stale.mark_consumed(watched.stale_keys)
        self.step += 1

    # ----------------------------------------------------------------------- optimizer
    def _optimizer_info(self, optimizer: torch.optim.Optimizer) -> OptimizerInfo:
        info = self.optimizers.get(id(optimizer))
        count = OptimizerInfo.count_params(optimizer)
        if (info is not None and info.ref() is optimizer and info.param_count == count
                and info.models_version == self._models_version):
            return info
        params = [p for group in optimizer.param_groups for p in group["params"]]
        param_ids = {id(p) for p in params}
        models: list[WatchedModel] = []
        for param in params:
            owner = self.param_owner.get(id(param))
            if owner is not None and owner not in models:
                models.append(owner)
        named = []
        for param in params:
            owner = self.param_owner.get(id(param))
            if owner is None:
                named.append((1, "parameter", param))
                continue
            index = owner.tracker.index_by_id[id(param)]
            # Sample parameters known to receive gradients: a detached branch says nothing.
            named.append((0 if index in owner.tracker.got_grad else 1, owner.tracker.names[index], param))
        named = [(name, param) for _, name, param in sorted(named, key=lambda row: row[0])]
        info = OptimizerInfo(ref=OptimizerInfo.make_ref(optimizer), name=type(optimizer).__name__,
                             param_ids=param_ids, param_count=count, models=models,
                             stale_keys=self.stale.sample(named), models_version=self._models_version)
        for watched in models:
            watched.optimizer_ids.add(id(optimizer))
            watched.clear_sentinels()
        self.optimizers[id(optimizer)] = info
        if not models and not self._discovery_handles and self.discover:
            self._start_discovery()  # a new model appeared (a new fold, a second stage)
        return info

    def _on_step_pre(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.suspended:
            return None
        self._step_depth += 1
        if self._step_depth > 1:
            return None
        self._backwards_in_step = 0
        try:
            info = self._current_info = self._optimizer_info(optimizer)
            stale = self.stale.confirm(info.stale_keys)
            if stale:
                self._record_stale(stale, info.name, len(info.stale_keys))
            if self.preflight_request is not None:
                self.preflight_request.on_step(self, optimizer, info)
            for watched in info.models:
                watched.tracker.grads_final(self.every)
                watched.tracker.before_update(self.every)
                if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                    with self.faults.guard("dynamics monitor", self.step):
                        watched.monitor.on_before_update(self.step)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("optimizer step hook", error, self.step)
        return None

    def _on_step_post(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        if self.suspended:
            return None
        self._step_depth = max(self._step_depth - 1, 0)
        if self._step_depth > 0:
            return None
        try:
            info = self._current_info
            self._current_info = None
            if info is None or info.models_version != self._models_version:
                info = self._optimizer_info(optimizer)  # a model was found inside step (closure)
            for watched in info.models:
                watched.tracker.after_update()
                if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                    with self.faults.guard("dynamics monitor", self.step):
                        watched.monitor.on_after_update(self.step)
            self.stale.mark_consumed(info.stale_keys)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("optimizer step hook", error, self.step)
        self.step += 1
        self._stepped_since_backward = True
        self._manual_pending = False
        self._maybe_judge()
        return None

    def _record_stale(self, names: list[str], update: str, checked: int) -> None:
        self.stale_update_count += 1
        if len(self.stale_grad_updates) < MAX_EVENTS:
            self.stale_grad_updates.append({
                "step": self.step, "update": update, "stale_params": names, "checked_params": checked,
                "seen_updates": self.stale_update_count,
            })
            self.judge.dirty = True
        else:  # the list stays bounded; the last record carries the running count
            self.stale_grad_updates[-1]["seen_updates"] = self.stale_update_count

    # ----------------------------------------------------------------- evaluation passes
    def _on_eval_forward(self, watched: WatchedModel) -> None:
        self.no_grad_forward_count += 1
        previous = self.no_grad_forwards[-1] if self.no_grad_forwards else None
        if previous and previous["step"] == self.step and previous["model"] == watched.label:
            return  # one record per evaluation pass is enough
        if len(self.no_grad_forwards) >= MAX_EVENTS:
            return
        in_training = training_mode_names(watched.mode_modules)
        self.no_grad_forwards.append({
            "step": self.step, "model": watched.label,
            "train_mode_modules": in_training[:MAX_NAMES],
            "train_mode_count": len(in_training),
            "mode_dependent_count": len(watched.mode_modules),
        })
        if in_training:
            self.judge.dirty = True

    def _on_loss_call(self, function_name: str, kind: str, args: tuple[Any, ...],
                      kwargs: dict[str, Any], output: Any) -> None:
        self._in_loss = True
        try:
            prediction, target = loss_target_tensor(args, kwargs)
            if not isinstance(prediction, torch.Tensor) or not isinstance(output, torch.Tensor):
                return
            grad_mode = torch.is_grad_enabled()
            reduction = kwargs.get("reduction", "mean")
            if grad_mode:
                self._last_loss_output = output
                self._grad_loss_calls += 1
                if not self._initial_tried or self.preflight_request is not None:
                    self._last_loss_call = {"kind": kind, "output": output, "prediction": prediction,
                                            "target": target, "reduction": reduction,
                                            "function": function_name, "kwargs": kwargs}
            elif self.models:
                self._eval_sum += mean_loss_value(kind, output, prediction, reduction)
                self._eval_count += 1
            if self._describe_due(grad_mode):
                record = describe_loss_call(kind, prediction, target, step=self.step)
                if len(self.loss_calls) < MAX_LOSS_CALLS:
                    self.loss_calls.append(record)
                    self.judge.dirty = True
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001
            self.faults.record("loss-call inspection", error, self.step)
        finally:
            self._in_loss = False

    def _describe_due(self, grad_mode: bool) -> bool:
        if self._described[grad_mode] < FIRST_DESCRIBED_CALLS:
            self._described[grad_mode] += 1
            return True
        if grad_mode and self.step % (self.every * 10) == 0 and self._described_step != self.step:
            self._described_step = self.step
            return True
        return False

    def _flush_eval_losses(self) -> None:
        if not self._eval_count:
            return
        value = self._eval_sum / self._eval_count
        self._eval_sum, self._eval_count = 0.0, 0
        self.log_eval_loss(value)

    def log_eval_loss(self, value: float, step: int | None = None) -> None:
        for watched in self.models.values():
            if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                with self.faults.guard("dynamics monitor", self.step):
                    watched.monitor.on_eval_loss(float(value), self.step if step is None else step)

    # ------------------------------------------------------------------------ judging
    def _maybe_judge(self) -> None:
        if not self.judge.due():
            return
        report = None
        try:
            report = self.judge.judge(self.measurements())
        except Exception as error:  # noqa: BLE001
            self.faults.record("rule evaluation", error, self.step)
        if report is not None:
            self.judge.announce(report)  # may raise StopRun (--stop-on)

    def measurements(self) -> list[Measurements]:
        shared = Measurements()
        shared["steps_observed"] = self.step
        shared["internal_faults"] = self.faults.as_list() + list(self._fault_list)
        if self.loss_calls:
            shared["loss_calls"] = list(self.loss_calls)
        else:
            shared.mark_unavailable("loss_calls", "no torch loss function call was seen")
        if (self.step >= 2 and self.stale_checks) or self.stale_grad_updates:
            shared["stale_grad_updates"] = list(self.stale_grad_updates)
        elif self.step >= 2:
            shared.mark_unavailable(
                "stale_grad_updates",
                "every backward ran inside optimizer.step (a closure optimizer such as LBFGS)")
        else:
            shared.mark_unavailable("stale_grad_updates", "fewer than two updates were observed")
        if self.no_grad_forwards:
            shared["no_grad_forwards"] = list(self.no_grad_forwards)
        else:
            shared.mark_unavailable(
                "no_grad_forwards",
                "no evaluation pass (a forward of the model with gradients disabled) was seen")
        if self.initial_loss is not None:
            shared["initial_loss"] = self.initial_loss
        else:
            shared.mark_unavailable(
                "initial_loss", "the first training loss was not one call of a recognised torch loss function")
        if not self.models:
            for name in ("parameter_status",):
                shared.mark_unavailable(name, "no nn.Module received gradients from a training loss")
            return [shared]
        parts = []
        prefix = len(self.models) > 1
        for index, watched in enumerate(self.models.values()):
            part = shared if index == 0 else Measurements(steps_observed=self.step)
            status = watched.tracker.status(self._optimizer_param_ids() if self.optimizers else None)
            if prefix:
                for row in status:
                    row["name"] = f"{watched.label}.{row['name']}"
            part["parameter_status"] = status
            if watched.monitor is not None and self.faults.enabled("dynamics monitor"):
                with self.faults.guard("dynamics monitor", self.step):
                    part.update(watched.monitor.measurements())
            parts.append(part)
        return parts

    def _optimizer_param_ids(self) -> set[int]:
        ids: set[int] = set()
        for info in self.optimizers.values():
            ids |= info.param_ids
        return ids

    def finish(self) -> Report:
        """Flush pending evidence, remove every hook and patch, return the final report."""
        try:
            if self.installed and not self._stepped_since_backward and self.backwards:
                self._detect_manual_update()
            self._flush_eval_losses()
        except Exception as error:  # noqa: BLE001
            self.faults.record("final update check", error, self.step)
        self.uninstall()
        started = time.monotonic()
        try:
            parts = self.measurements()
        except Exception as error:  # noqa: BLE001
            self.faults.record("final measurements", error, self.step)
            parts = [Measurements(internal_faults=self.faults.as_list(), steps_observed=self.step)]
        report = self.judge.final(self.judge.judge(parts))
        report.context.update(self.context)
        report.context.update({
            "steps_observed": self.step,
            "backwards_observed": self.backwards,
            "models": [{"label": w.label, "class": type(w.module).__name__,
                        "parameters": sum(p.numel() for p in w.tracker.params)}
                       for w in self.models.values()],
            "optimizers": sorted({info.name for info in self.optimizers.values()}),
            "evaluation_forwards": self.no_grad_forward_count,
            "every": self.every,
            "judge_seconds": round(time.monotonic() - started, 4),
        })
        return report
