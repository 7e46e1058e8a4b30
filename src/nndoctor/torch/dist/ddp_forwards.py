"""What one DistributedDataParallel wrapper saw: training forwards through it or around
it, whether each armed gradient synchronisation, its first inputs, its BatchNorm layers.

DDP decides at forward time whether the next backward all-reduces gradients: its forward
calls `reducer.prepare_for_backward` only when `require_backward_grad_sync` is set (cleared
inside `no_sync()`). A forward of the inner module (`ddp.module(x)`, or the original model
object) skips that call, so its backward averages nothing. Forward hooks on the wrapper
and on the inner module see both, with no per-op cost: two Python calls per forward.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nndoctor.torch.preflight.structures import iter_tensors

# Input fingerprints of the first training batches: enough to tell ranks apart (one
# batch could coincide by chance in a toy set), few enough to cost nothing.
FINGERPRINTED_BATCHES = 3


def input_fingerprint(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Per input tensor: element count, float64 sum and sum of squares. Two ranks with
    equal fingerprints on several batches hold the same data (up to a vanishing chance)."""
    values: list[float] = []
    batch_size = None
    for tensor in iter_tensors((args, kwargs)):
        if tensor.numel() == 0 or tensor.is_complex() or tensor.dtype == torch.bool:
            continue
        if batch_size is None and tensor.dim() >= 1:
            batch_size = int(tensor.shape[0])
        flat = tensor.detach().reshape(-1).to(torch.float64)
        values += [float(tensor.numel()), float(flat.sum()), float((flat * flat).sum())]
    if not values:
        return None
    return {"values": values, "batch_size": batch_size}


def unsynced_batchnorm(module: nn.Module) -> list[str]:
    """Names of BatchNorm layers in training mode that normalise over this rank's batch only."""
    return [f"{name or type(module).__name__} ({type(layer).__name__})" for name, layer in module.named_modules()
            if isinstance(layer, nn.modules.batchnorm._BatchNorm)
            and not isinstance(layer, nn.SyncBatchNorm) and layer.training]


class DDPForwards:
    """The hooks on one DDP wrapper and its inner module, and what they counted.

    A step's forward kind is that of the last training forward before the optimizer step
    that was followed by a backward: an evaluation forward with gradients enabled (no
    backward after it) does not make the step bypassed."""

    def __init__(self, ddp: nn.Module, session: Any, label: str) -> None:
        self.ddp, self.session, self.label = ddp, session, label
        self.param_ids = {id(p) for p in ddp.parameters()}
        self.inside_wrapper = 0
        self.wrapped_forwards = 0
        self.bypassed_forwards = 0
        self.last_kind: str | None = None  # "wrapped" or "bypassed"
        self.last_forward_backwards = 0  # session.backwards at the last training forward
        self.synced_forwards_since_step = 0
        self.unsynced_forwards_since_step = 0
        self.steps = 0
        self.bypassed_steps: list[int] = []
        self.bypassed_step_count = 0
        self.unsynced_steps: list[int] = []
        self.unsynced_step_count = 0
        self.no_sync_forwards = 0
        self.fingerprints: list[list[float]] = []
        self.fingerprinting = True
        self.batch_size: int | None = None
        self.batchnorm_layers: list[str] | None = None
        self.handles = [
            ddp.register_forward_pre_hook(self._wrapper_pre, with_kwargs=True),
            ddp.register_forward_hook(self._wrapper_post, always_call=True),
            ddp.module.register_forward_pre_hook(self._inner_pre, with_kwargs=True),
        ]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles.clear()

    def _wrapper_pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.inside_wrapper += 1
        if not torch.is_grad_enabled() or self.session.suspended:
            return
        # Inline containment (no context manager): this runs at every forward.
        try:
            self.wrapped_forwards += 1
            self._training_forward("wrapped", args, kwargs)
            if getattr(module, "require_backward_grad_sync", True):
                self.synced_forwards_since_step += 1
            else:
                self.unsynced_forwards_since_step += 1
                self.no_sync_forwards += 1
            if self.batchnorm_layers is None:
                self.batchnorm_layers = unsynced_batchnorm(module.module)
        except Exception as error:  # noqa: BLE001 — containment is the point
            self.session.faults.record("DDP forward hook", error, self.session.step)

    def _wrapper_post(self, module: nn.Module, args: Any, output: Any) -> None:
        self.inside_wrapper = max(self.inside_wrapper - 1, 0)

    def _inner_pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.inside_wrapper or not torch.is_grad_enabled() or self.session.suspended:
            return
        try:
            self.bypassed_forwards += 1
            self._training_forward("bypassed", args, kwargs)
        except Exception as error:  # noqa: BLE001
            self.session.faults.record("DDP forward hook", error, self.session.step)

    def _training_forward(self, kind: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.last_kind = kind
        self.last_forward_backwards = self.session.backwards
        if self.fingerprinting:
            fingerprint = input_fingerprint(args, kwargs)
            if fingerprint is not None:
                self.fingerprints.append(fingerprint["values"])
                if self.batch_size is None:
                    self.batch_size = fingerprint["batch_size"]
            self.fingerprinting = len(self.fingerprints) < FINGERPRINTED_BATCHES

    def on_step(self, step: int, max_events: int) -> None:
        """An optimizer step over this wrapper's parameters: judge the forwards since the last one."""
        backward_after_forward = self.session.backwards > self.last_forward_backwards
        if self.last_kind is None or not backward_after_forward:
            return
        self.steps += 1
        if self.last_kind == "bypassed":
            self.bypassed_step_count += 1
            if len(self.bypassed_steps) < max_events:
                self.bypassed_steps.append(step)
        elif self.synced_forwards_since_step == 0 and self.unsynced_forwards_since_step:
            self.unsynced_step_count += 1
            if len(self.unsynced_steps) < max_events:
                self.unsynced_steps.append(step)
        self.last_kind = None
        self.synced_forwards_since_step = self.unsynced_forwards_since_step = 0

    def record(self) -> dict[str, Any]:
        return {
            "wrapper": self.label, "training_steps": self.steps,
            "wrapped_forwards": self.wrapped_forwards, "bypassed_forwards": self.bypassed_forwards,
            "bypassed_steps": self.bypassed_step_count, "bypassed_step_list": list(self.bypassed_steps),
            "unsynced_steps": self.unsynced_step_count, "unsynced_step_list": list(self.unsynced_steps),
            "no_sync_forwards": self.no_sync_forwards,
            "input_fingerprints": [list(f) for f in self.fingerprints], "per_rank_batch_size": self.batch_size,
            "unsynced_batchnorm": list(self.batchnorm_layers or []),
        }
