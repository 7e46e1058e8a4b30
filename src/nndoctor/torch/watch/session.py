"""The watching session: sees an unchanged training loop from inside.

How it sees, without edits to the user's code and without per-op Python — each way has
its own module, and `Session` ties them together over one shared state:
* backward_interception: `backward` is wrapped; the tensor it is called on is the
  training loss, and gradients are noted before and after.
* update_tracking: global optimizer step hooks (updates, the moment gradients are final,
  which parameters each optimizer owns) and manual updates, noticed by sentinel parameters.
* model_discovery: global forward hooks, only until the models are known, find the
  modules being trained; each model keeps one cheap forward pre-hook of its own.
* loss_interception: the torch.nn.functional losses are wrapped and sampled calls
  described for the loss rules.
* eval_tracking: forwards and losses with gradients disabled are evaluation passes.
* reporting: measurements for the rules, judged while training and at the end.

Every handler is contained: a fault is recorded for the `internal-error` rule and the
user's program continues exactly as it would without nndoctor.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.optim import optimizer as optimizer_hooks

from nndoctor.core.capability import RuleSet, Selection
from nndoctor.torch.watch.backward_interception import BackwardTracking, patch_backward, unpatch_backward
from nndoctor.torch.watch.eval_tracking import EvalPassTracking
from nndoctor.live.faults import FaultLog, StopRun
from nndoctor.live.judge import Judge
from nndoctor.torch.watch.chance import ChanceLevel
from nndoctor.torch.watch.clip_tracking import ClipTracking, patch_clipping, unpatch_clipping
from nndoctor.torch.watch.functional_dropout import patch_functional_dropout, unpatch_functional_dropout
from nndoctor.torch.watch.iteration import IterationFacts
from nndoctor.torch.watch.loss_interception import LossCallTracking, patch_losses, unpatch_losses
from nndoctor.torch.watch.score_function import patch_distributions, unpatch_distributions
from nndoctor.torch.watch.model_discovery import ModelDiscovery
from nndoctor.torch.watch.models import OptimizerInfo, WatchedModel
from nndoctor.torch.watch.reporting import CAPABILITY, SessionReporting
from nndoctor.torch.watch.stale_grads import StaleGradTracker
from nndoctor.torch.watch.update_tracking import UpdateTracking

_active: Session | None = None


def active_session() -> Session | None:
    return _active


class Session(BackwardTracking, LossCallTracking, ModelDiscovery, UpdateTracking, EvalPassTracking,
              SessionReporting):
    """One watched run: the state every handler shares, install/uninstall of the hooks
    and patches, and the contained call into a model's dynamics monitor."""

    def __init__(
        self,
        *,
        every: int = 10,
        selection: Selection | None = None,
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
        # selection: the user's rules and thresholds (pyproject merged with the command's
        # options); None reads pyproject alone.
        self.judge = Judge(RuleSet(CAPABILITY, selection), live=live, stop_on=stop_on, stream=stream,
                           command=command)
        self.faults = FaultLog()
        self.step = 0
        self.optimizer_steps = 0
        self.iterations = IterationFacts()
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
        self.initial_eval_loss: dict[str, Any] | None = None
        self.input_stats: list[dict[str, Any]] = []
        self.logged_predictions: tuple[int, dict[str, Any]] | None = None  # doctor.log(predictions=...)
        self.chance = ChanceLevel()
        self.clipping = ClipTracking()
        self._pending_dropout: list[dict[str, Any]] = []
        self._first_layer_handle: Any = None
        self._eval_mode_losses: list[tuple[float, list[bool]]] = []
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
        self._in_closure_step = False
        self._closure_calls = 0
        self._closure_backward_checked = False
        self._last_loss_reduction: str | None = None
        self._last_loss_identity: tuple[str, Any] | None = None
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
        self.score_function_log_probs = 0  # log_prob of a sample() with gradients: a policy-gradient loss
        self._handles: list[Any] = []
        self._discovery_handles: list[Any] = []
        self._originals: dict[str, Any] = {}
        self._monitor_class: Any = None
        # The dynamics monitors append contained faults of their own here (TORCH contract).
        self._fault_list: list[dict[str, Any]] = []
        self._initial_loss_record: Any = None

    def install(self) -> Session:
        global _active
        if _active is not None:
            raise RuntimeError("another nndoctor watch session is already active")
        _active = self
        self._monitor_class = self._optional("nndoctor.torch.dynamics.monitor", "DynamicsMonitor")
        self._initial_loss_record = self._optional("nndoctor.torch.expectations", "initial_loss_record")
        patch_backward(self)
        patch_losses(self)
        patch_functional_dropout(self)
        patch_clipping(self)
        patch_distributions(self)
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
        self._disarm_first_layer_probe()
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
        unpatch_backward(self._originals)
        unpatch_functional_dropout(self._originals)
        unpatch_clipping(self._originals)
        unpatch_distributions(self._originals)
        unpatch_losses(self._originals)  # last: it puts back every original left
        self._originals.clear()
        self._candidates.clear()
        self._candidate_inputs.clear()
        self._last_loss_call = None
        self._last_loss_output = None
        self._provisional.clear()
        if _active is self:
            _active = None

    def _tell_monitor(self, watched: WatchedModel, event: str, *args: Any) -> None:
        """Call `watched.monitor.<event>(*args)`, contained, unless monitoring was disabled
        after repeated faults."""
        monitor = watched.monitor
        if monitor is None or "dynamics monitor" in self.faults.disabled:
            return
        # Inline containment (no context manager): this runs three times per step.
        try:
            getattr(monitor, event)(*args)
        except StopRun:
            raise
        except Exception as error:  # noqa: BLE001 — containment is the point
            self.faults.record("dynamics monitor", error, self.step)
