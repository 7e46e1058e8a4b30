"""Capture, restore and verify everything preflight could disturb.

Preflight runs its experiments on deep copies, but the user's model code may still touch
shared state (a forward that edits its input in place, a global RNG draw). The snapshot
covers parameters, buffers, gradients, train/eval flags, the optimizer's state, the
torch/numpy/python/CUDA random states and the input tensors, so `restore()` puts all of
it back bit for bit and `differences()` names whatever is not identical.
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from nndoctor.torch.preflight.structures import iter_tensors


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device or a.is_sparse != b.is_sparse:
        return False
    if a.is_sparse:
        a, b = a.detach().to_dense(), b.detach().to_dense()
    # Bitwise, so NaN equals NaN and -0.0 differs from 0.0.
    # contiguous(): a strided view (x[::2]) cannot be reinterpreted as bytes in place.
    return bool(torch.equal(a.detach().contiguous().view(-1).view(torch.uint8),
                            b.detach().contiguous().view(-1).view(torch.uint8)))


def _state_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and _same(a, b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_state_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_state_equal(x, y) for x, y in zip(a, b))
    return bool(a == b) or (a != a and b != b)  # NaN hyperparameters compare equal


@dataclass
class StateSnapshot:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer | None
    inputs: list[torch.Tensor]
    parameters: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, bool]]
    buffers: list[tuple[torch.Tensor, torch.Tensor]]
    training_flags: list[tuple[torch.nn.Module, bool]]
    optimizer_state: dict[str, Any] | None
    input_values: list[torch.Tensor]
    input_requires_grad: list[bool]
    torch_rng: torch.Tensor
    cuda_rng: list[torch.Tensor] | None
    numpy_rng: Any
    python_rng: Any
    grad_enabled: bool

    @classmethod
    def capture(cls, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None, *values: Any) -> StateSnapshot:
        inputs = [t for value in values for t in iter_tensors(value)]
        return cls(
            model=model,
            optimizer=optimizer,
            inputs=inputs,
            parameters=[
                (p, p.detach().clone(), None if p.grad is None else p.grad.detach().clone(), p.requires_grad)
                for p in model.parameters()
            ],
            buffers=[(b, b.detach().clone()) for b in model.buffers()],
            training_flags=[(module, module.training) for module in model.modules()],
            optimizer_state=copy.deepcopy(optimizer.state_dict()) if optimizer is not None else None,
            input_values=[t.detach().clone() for t in inputs],
            input_requires_grad=[t.requires_grad for t in inputs],
            torch_rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None,
            numpy_rng=np.random.get_state(),
            python_rng=random.getstate(),
            grad_enabled=torch.is_grad_enabled(),
        )

    def restore(self) -> None:
        """Put back whatever differs; identical tensors are left alone (not even rewritten)."""
        torch.set_rng_state(self.torch_rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        np.random.set_state(self.numpy_rng)
        random.setstate(self.python_rng)
        torch.set_grad_enabled(self.grad_enabled)
        with torch.no_grad():
            for param, value, grad, requires_grad in self.parameters:
                if not _same(param, value):
                    param.copy_(value)
                if not _same(param.grad, grad):
                    param.grad = None if grad is None else grad.clone()
                param.requires_grad_(requires_grad)
            for buffer, value in self.buffers:
                if not _same(buffer, value):
                    buffer.copy_(value)
            for tensor, value in zip(self.inputs, self.input_values):
                if not _same(tensor, value):
                    tensor.copy_(value)
        for module, flag in self.training_flags:
            module.training = flag
        if self.optimizer is not None and not _state_equal(self.optimizer.state_dict(), self.optimizer_state):
            self.optimizer.load_state_dict(copy.deepcopy(self.optimizer_state))

    def differences(self) -> list[str]:
        """What is not bit-identical to the captured state (empty when all is restored)."""
        found = []
        names = {id(p): n for n, p in self.model.named_parameters()}
        for param, value, grad, requires_grad in self.parameters:
            name = names.get(id(param), "?")
            if not _same(param, value):
                found.append(f"parameter {name}")
            if not _same(param.grad, grad):
                found.append(f"gradient of {name}")
            if param.requires_grad != requires_grad:
                found.append(f"requires_grad of {name}")
        found += [f"buffer #{i}" for i, (b, v) in enumerate(self.buffers) if not _same(b, v)]
        found += [f"train/eval flag of {type(m).__name__}" for m, flag in self.training_flags if m.training != flag]
        found += [f"input tensor #{i}" for i, (t, v) in enumerate(zip(self.inputs, self.input_values)) if not _same(t, v)]
        found += [
            f"requires_grad of input tensor #{i}"
            for i, (t, flag) in enumerate(zip(self.inputs, self.input_requires_grad)) if t.requires_grad != flag
        ]
        if self.optimizer is not None and not _state_equal(self.optimizer.state_dict(), self.optimizer_state):
            found.append("optimizer state")
        if not _same(torch.get_rng_state(), self.torch_rng):
            found.append("torch RNG state")
        if not _state_equal(list(np.random.get_state()), list(self.numpy_rng)):
            found.append("numpy RNG state")
        if random.getstate() != self.python_rng:
            found.append("python RNG state")
        if torch.is_grad_enabled() != self.grad_enabled:
            found.append("grad mode")
        return found
