"""Finding the models being trained, in a loop nndoctor was not told about.

While discovering, global module forward hooks note the outermost modules called with
gradients enabled. Just before a backward they become models provisionally (so the
dynamics monitor sees this very loss); right after it, those whose parameters got no
gradient are dropped. The global hooks are removed once every optimizer's models are
known (or after `DISCOVERY_MAX_BACKWARDS`), because they cost a Python call per module.
Each model keeps one cheap forward pre-hook of its own: a forward with gradients
disabled is an evaluation pass, and a pending manual update is checked before it.
"""
from __future__ import annotations

import re
import warnings
from typing import Any

import torch
from torch import nn
from torch.nn.modules import module as module_hooks

from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.inputs import DESCRIBED_BATCHES, describe_input, first_layer_probe
from nndoctor.torch.watch.models import WatchedModel, named_root
from nndoctor.torch.watch.params import ParameterTracker

DISCOVERY_MAX_BACKWARDS = 50


# torch.compile warns that global module hooks will fire twice; those hooks are nndoctor's
# (discovery ignores the wrapper's extra call), so the user must not be told to change code.
_COMPILE_HOOK_WARNING = ("ignore", re.compile(r"Using `torch\.compile\(module\)` when there are global hooks"),
                         UserWarning, None, 0)


def _hide_compile_hook_warning(hide: bool) -> None:
    if hide and _COMPILE_HOOK_WARNING not in warnings.filters:
        warnings.filters.insert(0, _COMPILE_HOOK_WARNING)
    elif not hide and _COMPILE_HOOK_WARNING in warnings.filters:
        warnings.filters.remove(_COMPILE_HOOK_WARNING)
    else:
        return
    mutated = getattr(warnings, "_filters_mutated", None) or getattr(warnings, "_filters_mutated_lock_held", None)
    if mutated is not None:
        mutated()


class ModelDiscovery:
    """Model discovery and registration for `Session` (a mixin: it uses the session's state)."""

    def _start_discovery(self) -> None:
        if self._discovery_handles:
            return
        self._depth = 0
        _hide_compile_hook_warning(True)
        self._discovery_handles.append(
            module_hooks.register_module_forward_pre_hook(self._on_any_forward_pre))
        self._discovery_handles.append(
            module_hooks.register_module_forward_hook(self._on_any_forward_post, always_call=True))

    def _stop_discovery(self) -> None:
        for handle in self._discovery_handles:
            handle.remove()
        self._discovery_handles.clear()
        _hide_compile_hook_warning(False)
        self._candidates.clear()
        self._candidate_inputs.clear()

    def _discovery_complete(self) -> bool:
        if self.backwards >= DISCOVERY_MAX_BACKWARDS:
            return True
        return bool(self.models) and self.step >= 1 and all(
            info.models for info in self.optimizers.values())

    def add_model(self, module: nn.Module, label: str | None = None) -> WatchedModel:
        existing = self.models.get(id(module))
        if existing is not None:
            return existing
        named = named_root(module)
        base = label or type(named).__name__
        taken = {m.label for m in self.models.values()}
        label, number = base, 2
        while label in taken:
            label, number = f"{base}#{number}", number + 1
        watched = WatchedModel(module=module, label=label, tracker=ParameterTracker(named, label))
        watched.hook_handle = module.register_forward_pre_hook(self._model_forward_hook(watched),
                                                               with_kwargs=True)
        if self._monitor_class is not None:
            with self.faults.guard("dynamics monitor", self.step):
                watched.monitor = self._monitor_class(named, every=self.every, faults=self._fault_list)
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
                watched.forward_at = session.step
                watched.forward_in_eval = not module.training
                session.iterations._forwards += 1  # training forwards since the last update
                if watched.inputs_described < DESCRIBED_BATCHES:
                    session._describe_input(watched, args, kwargs)
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

    def _describe_input(self, watched: WatchedModel, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        watched.inputs_described += 1
        try:
            record = describe_input(args, kwargs, model=watched.label, step=self.step)
        except Exception as error:  # noqa: BLE001
            self.faults.record("input description", error, self.step)
            return
        if record is not None:
            self.input_stats.append(record)
            self.judge.dirty = True
            if self._first_layer_handle is None:
                self._first_layer_handle = module_hooks.register_module_forward_pre_hook(
                    first_layer_probe(self, record))

    def _disarm_first_layer_probe(self) -> None:
        if self._first_layer_handle is not None:
            self._first_layer_handle.remove()
            self._first_layer_handle = None

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
            if not params:
                continue
            inner = self._models_inside(module)
            if all(id(p) in self.param_owner for p in params) and not inner:
                continue
            for old in inner:  # a later stage wraps modules trained on their own before
                self._remove_model(old)
            watched = self.add_model(module)
            watched.forwarded = True  # its forward ran before its hook existed
            watched.forward_at = self.step
            watched.forward_in_eval = not module.training
            inputs = self._candidate_inputs.get(key)
            if inputs is not None:
                watched.last_inputs = inputs
            self._provisional.append((watched, params))
        self._candidates.clear()
        self._candidate_inputs.clear()

    def _models_inside(self, module: nn.Module) -> list[WatchedModel]:
        """Watched models that are strict submodules of `module`."""
        if not self.models or id(module) in self.models:
            return []
        inside = {id(m) for m in module.modules()}
        return [w for key, w in self.models.items() if key in inside]

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
