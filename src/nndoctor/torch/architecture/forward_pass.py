"""One recorded forward pass of a deep copy of the model, leaving the user's model untouched.

The copy runs in training mode under `torch.no_grad()` on a clone of the batch, with
forward hooks on every module (where an op happens, and each weight layer's output) and
an `OpRecorder` TorchFunctionMode that sees every torch function call, module or
functional alike. The Python, NumPy and torch random states are restored afterwards.
A forward that raises is the user's problem (`ModelFailed`); a fault in the recording is
nndoctor's and is raised after the pass.
"""
from __future__ import annotations

import copy
import random
from typing import Any

import numpy
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nndoctor.torch.architecture.forward_trace import ForwardTrace
from nndoctor.torch.architecture.op_kinds import WEIGHT_LAYERS
from nndoctor.torch.preflight.structures import call_model, map_tensors


class ModelFailed(Exception):
    """The user's forward pass raised: not nndoctor's fault, but nothing was measured."""


class OpRecorder(TorchFunctionMode):
    """Hands every torch op call to the trace; the first fault stops the recording."""

    def __init__(self, trace: ForwardTrace) -> None:
        super().__init__()
        self.trace = trace
        self.fault: Exception | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.fault is None:
            try:
                self.trace.on_op(_op_name(func), args, kwargs, out)
            except Exception as error:  # noqa: BLE001 — recorded, raised after the pass
                self.fault = error
        return out


def trace_forward(model: nn.Module, inputs: Any) -> ForwardTrace:
    """One no-grad forward pass of a deep copy of `model`, recorded; the Python, NumPy
    and torch random states are restored afterwards (a forward may draw from any)."""
    try:
        clone = copy.deepcopy(model)
    except Exception as error:  # noqa: BLE001 — an uncopyable model is a usage limit
        raise ModelFailed(f"the model cannot be deep-copied ({type(error).__name__}: {error})") from None
    if isinstance(clone, torch.jit.ScriptModule):
        raise ModelFailed("a TorchScript model cannot be watched with forward hooks; pass the nn.Module")
    if not clone.training:
        clone.train()  # preflight is about training: look at the training-mode forward
    trace = ForwardTrace(clone)
    handles = []
    for name, module in clone.named_modules():
        label = name or "(model)"
        where = f"{label} ({type(module).__name__})"
        handles.append(module.register_forward_pre_hook(lambda mod, args, where=where: trace.stack.append(where)))
        handles.append(module.register_forward_hook(lambda mod, args, out: trace.leave(), always_call=True))
        if isinstance(module, WEIGHT_LAYERS):
            handles.append(module.register_forward_hook(
                lambda mod, args, out, label=label: trace.on_layer_output(label, mod, args, out)))
    rng_python, rng_numpy = random.getstate(), numpy.random.get_state()
    rng_cpu = torch.get_rng_state()
    rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    recorder = OpRecorder(trace)
    try:
        with torch.no_grad(), recorder:
            try:
                trace.output = _call(clone, _clone_inputs(inputs))
            except Exception as error:  # noqa: BLE001 — the user's forward, reported as such
                raise ModelFailed(f"the model's forward pass failed on this batch: {type(error).__name__}: {error}") from None
    finally:
        random.setstate(rng_python)
        numpy.random.set_state(rng_numpy)
        torch.set_rng_state(rng_cpu)
        if rng_cuda is not None:
            torch.cuda.set_rng_state_all(rng_cuda)
        for handle in handles:
            handle.remove()
    if recorder.fault is not None:
        raise recorder.fault
    return trace


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or ""
    return name.strip("_").rstrip("_")


def _clone_inputs(inputs: Any) -> Any:
    """In-place ops in a forward must not reach the user's batch."""
    return map_tensors(inputs, torch.Tensor.clone)


# Called the way preflight calls the model (tensor, tuple, mapping, CallArguments).
_call = call_model
