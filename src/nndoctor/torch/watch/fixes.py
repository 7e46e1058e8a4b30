"""One candidate fix applied to an unchanged training script from inside the watch session,
for a trial of `nndoctor run --try-fixes` (the fixes themselves: nndoctor.tune.fix_catalogue).

Nothing in the user's file changes; the fix is an interception for the length of the run:
* lr ×factor, warm-up, weight decay ×factor: each param group's value is scaled just
  before `optimizer.step()` and put back right after, so whatever scheduler the script
  uses keeps seeing (and computing from) its own values;
* gradient clipping: `clip_grad_norm_` over the optimizer's parameters before each step;
* zero the gradients: `optimizer.zero_grad(set_to_none=True)` after each step;
* dropout off: the functional dropouts (which `nn.Dropout` and attention call) get p = 0;
* He/Xavier initialisation: Linear/Conv weights of a model are re-initialised just before
  its first training forward, from a forked RNG so the script's random stream is the
  baseline's;
* train/eval mode: a model's top-level training forward finds it in train mode, an
  evaluation forward (gradients disabled) in eval mode (restored after it).

The interception also records every trial's loss per update (the sum of the backward
losses of that update: what its gradient is the gradient of) and ends the run at the
first training backward after `max_steps` updates. Its step pre-hook is installed before
the session's (so the session measures the fixed step) and its post-hook after (so
zeroing gradients does not hide them from the session's update measurements).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules import module as module_hooks
from torch.optim import optimizer as optimizer_hooks

from nndoctor.live.faults import StopRun
from nndoctor.torch.watch.functional_dropout import DROPOUT_FUNCTIONS, _active_rate
from nndoctor.torch.watch.optimizer_groups import ADAPTIVE_OPTIMIZERS, optimizer_kind

REINIT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
FORWARD_FIXES = {"reinit", "train_mode", "eval_mode"}


class TrialDone(StopRun):
    """Ends a trial after its steps; the runner treats it like --stop-on (no finding)."""

    def __init__(self) -> None:
        BaseException.__init__(self, "nndoctor ended the trial run after its steps")
        self.finding = None


class FixInterception:
    def __init__(self, session: Any, fix: dict[str, Any] | None = None, *, max_steps: int | None = None,
                 seed: int = 0) -> None:
        self.session = session
        self.kind = fix["kind"] if fix else None
        self.params = dict(fix.get("params") or {}) if fix else {}
        self.max_steps = max_steps
        self.seed = seed
        self.losses: dict[int, float] = {}
        self.limit_reached = False
        self.applied = 0  # how many times the fix acted (a fix that never acted cured nothing)
        self.optimizer_facts: dict[int, dict[str, Any]] = {}
        self.functional_dropout_calls = 0
        self._steps_by_optimizer: dict[int, int] = {}
        self._saved: list[tuple[dict[str, Any], str, Any]] = []
        self._step_depth = 0
        self._forward_depth = 0
        self._in_backward = False
        self._reinitialised: set[int] = set()
        self._restore_modes: tuple[nn.Module, list[tuple[nn.Module, bool]]] | None = None
        self._handles: list[Any] = []
        self._originals: dict[str, Any] = {}

    # ------------------------------------------------------------ install / uninstall
    def install_early(self) -> None:
        """Before the session installs: its patches and hooks then wrap these."""
        self._patch_backward()
        self._patch_dropout()
        self._handles.append(optimizer_hooks.register_optimizer_step_pre_hook(self._on_step_pre))
        if self.kind in FORWARD_FIXES:
            self._handles.append(module_hooks.register_module_forward_pre_hook(self._on_forward_pre))
            self._handles.append(module_hooks.register_module_forward_hook(self._on_forward_post, always_call=True))

    def install_late(self) -> None:
        self._handles.append(optimizer_hooks.register_optimizer_step_post_hook(self._on_step_post))

    def uninstall(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        if "tensor_backward" in self._originals:
            torch.Tensor.backward = self._originals.pop("tensor_backward")
            torch.autograd.backward = self._originals.pop("autograd_backward")
        for name in DROPOUT_FUNCTIONS:
            original = self._originals.pop(f"F.{name}", None)
            if original is not None:
                setattr(F, name, original)

    # ------------------------------------------------------------ losses and the step limit
    def _patch_backward(self) -> None:
        tensor_backward, autograd_backward = torch.Tensor.backward, torch.autograd.backward
        self._originals["tensor_backward"], self._originals["autograd_backward"] = tensor_backward, autograd_backward
        interception = self

        def backward(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            return interception._run_backward(tensor, tensor_backward, tensor, *args, **kwargs)

        def autograd_backward_wrapper(tensors: Any, *args: Any, **kwargs: Any) -> Any:
            if interception._in_backward:
                return autograd_backward(tensors, *args, **kwargs)
            first = tensors[0] if isinstance(tensors, (list, tuple)) and tensors else tensors
            return interception._run_backward(first, autograd_backward, tensors, *args, **kwargs)

        torch.Tensor.backward = backward
        torch.autograd.backward = autograd_backward_wrapper

    def _run_backward(self, loss: Any, original: Any, /, *args: Any, **kwargs: Any) -> Any:
        if self._in_backward or self.session.suspended:
            return original(*args, **kwargs)
        if self.max_steps is not None and self.session.step >= self.max_steps and not self._step_depth:
            self.limit_reached = True
            raise TrialDone()
        self._record_loss(loss)
        self._in_backward = True
        try:
            return original(*args, **kwargs)
        finally:
            self._in_backward = False

    def _record_loss(self, loss: Any) -> None:
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.is_floating_point():
            return
        value = float(loss.detach())
        step = self.session.step
        if self._step_depth:  # a closure inside optimizer.step(): its first evaluation is the step's loss
            self.losses.setdefault(step, value)
        else:
            self.losses[step] = self.losses.get(step, 0.0) + value

    def loss_curve(self) -> list[float]:
        return [self.losses[step] for step in sorted(self.losses)]

    # ------------------------------------------------------------ optimizer steps
    def _on_step_pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.session.suspended:
            return
        self._step_depth += 1
        if self._step_depth > 1:
            return
        self._note_optimizer(optimizer)
        index = self._steps_by_optimizer.get(id(optimizer), 0)
        self._steps_by_optimizer[id(optimizer)] = index + 1
        if self.kind == "lr_scale":
            self._scale(optimizer, "lr", self.params["factor"])
        elif self.kind == "warmup":
            steps = max(int(self.params["steps"]), 1)
            if index < steps:
                start = self.params["start_factor"]
                self._scale(optimizer, "lr", start + (1.0 - start) * index / steps)
        elif self.kind == "weight_decay_scale":
            self._scale(optimizer, "weight_decay", self.params["factor"])
        elif self.kind == "clip_grad":
            params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            if params:
                torch.nn.utils.clip_grad_norm_(params, self.params["max_norm"])
                self.applied += 1

    def _scale(self, optimizer: Any, name: str, factor: float) -> None:
        for group in optimizer.param_groups:
            value = group.get(name)
            if value is None or isinstance(value, bool):
                continue
            self._saved.append((group, name, value))
            group[name] = value * factor
        self.applied += 1

    def _on_step_post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.session.suspended or not self._step_depth:
            return
        self._step_depth -= 1
        if self._step_depth:
            return
        for group, name, value in self._saved:
            group[name] = value
        self._saved.clear()
        if self.kind == "zero_grad":
            optimizer.zero_grad(set_to_none=True)
            self.applied += 1

    def _note_optimizer(self, optimizer: Any) -> None:
        if id(optimizer) in self.optimizer_facts:
            return
        kind = optimizer_kind(optimizer)
        groups = []
        for group in optimizer.param_groups:
            lr = group.get("initial_lr", group.get("lr"))  # a scheduler keeps the constructor's lr here
            decay = group.get("weight_decay", 0.0)
            groups.append({"lr": _plain_number(lr), "weight_decay": _plain_number(decay)})
        self.optimizer_facts[id(optimizer)] = {"kind": kind, "adaptive": kind in ADAPTIVE_OPTIMIZERS,
                                               "groups": groups}

    # ------------------------------------------------------------ dropout
    def _patch_dropout(self) -> None:
        for name, (rate_index, rate_name, _training_index) in DROPOUT_FUNCTIONS.items():
            original = getattr(F, name, None)
            if original is not None:
                self._originals[f"F.{name}"] = original
                setattr(F, name, self._dropout_wrapper(name, original, rate_index, rate_name))

    def _dropout_wrapper(self, name: str, original: Any, rate_index: int, rate_name: str) -> Any:
        interception = self
        switch_off = self.kind == "dropout_off"

        def dropout(*args: Any, **kwargs: Any) -> Any:
            if torch.is_grad_enabled() and not interception.session.suspended:
                if _active_rate(name, args, kwargs) > 0:
                    interception.functional_dropout_calls += 1
                    if switch_off:
                        if len(args) > rate_index:
                            args = (*args[:rate_index], 0.0, *args[rate_index + 1:])
                        else:
                            kwargs[rate_name] = 0.0
                        interception.applied += 1
            return original(*args, **kwargs)

        dropout.__wrapped__ = original  # type: ignore[attr-defined]
        dropout.__doc__ = original.__doc__
        return dropout

    # ------------------------------------------------------------ forwards (init, modes)
    def _on_forward_pre(self, module: nn.Module, args: Any) -> None:
        outermost = self._forward_depth == 0
        self._forward_depth += 1
        if not outermost or self.session.suspended or next(module.parameters(), None) is None:
            return
        if torch.is_grad_enabled():
            if self.kind == "reinit" and id(module) not in self._reinitialised:
                self._reinitialise(module)
            elif self.kind == "train_mode" and not module.training:
                module.train()
                self.applied += 1
        elif self.kind == "eval_mode" and module.training:
            # Each submodule's own mode comes back after the pass (a frozen BatchNorm stays frozen).
            self._restore_modes = (module, [(m, m.training) for m in module.modules()])
            module.eval()
            self.applied += 1

    def _on_forward_post(self, module: nn.Module, args: Any, output: Any) -> None:
        self._forward_depth = max(self._forward_depth - 1, 0)
        if self._forward_depth == 0 and self._restore_modes is not None and self._restore_modes[0] is module:
            for submodule, training in self._restore_modes[1]:
                submodule.training = training
            self._restore_modes = None

    def _reinitialise(self, model: nn.Module) -> None:
        """He or Xavier for the hidden layers; the output layer (the last one) gets Xavier
        with gain 1, which keeps the logits near zero whatever the hidden activation."""
        self._reinitialised.update(id(m) for m in model.modules())
        layers = [m for m in model.modules() if isinstance(m, REINIT_LAYERS)]
        if not layers:
            return
        devices = sorted({p.device.index or 0 for p in model.parameters() if p.is_cuda})
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            torch.manual_seed(self.seed)
            for layer in layers:
                if layer is layers[-1]:
                    nn.init.xavier_uniform_(layer.weight)
                elif self.params["scheme"] == "he":
                    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                else:
                    nn.init.xavier_uniform_(layer.weight, gain=nn.init.calculate_gain("tanh"))
                if layer.bias is not None:
                    nn.init.zeros_(layer.bias)
        self.applied += 1

    # ------------------------------------------------------------ what the run showed
    def facts(self) -> dict[str, Any]:
        activations: set[str] = set()
        dropouts = 0
        for watched in self.session.models.values():
            for module in watched.module.modules():
                if type(module).__module__ == "torch.nn.modules.activation" and type(module).__name__ not in (
                        "MultiheadAttention", "Softmax", "LogSoftmax", "Softmin", "Softmax2d"):
                    activations.add(type(module).__name__)
                if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
                    dropouts += 1
                elif isinstance(module, nn.MultiheadAttention) and module.dropout > 0:
                    dropouts += 1
        return {"optimizers": list(self.optimizer_facts.values()), "activations": sorted(activations),
                "dropout_modules": dropouts, "functional_dropout_calls": self.functional_dropout_calls,
                "steps": self.session.step, "backwards": self.session.backwards}


def _plain_number(value: Any) -> float | None:
    if isinstance(value, torch.Tensor):
        return float(value.detach().reshape(-1)[0])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
