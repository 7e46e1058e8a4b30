"""Detects a backward that accumulates onto gradients an update already consumed
(the forgotten `optimizer.zero_grad()`, 002 #3) without touching any gradient values in
the healthy case.

PyTorch adds every backward onto `param.grad`. After an update, `zero_grad()` either sets
the gradient to None (the default) or zeroes it in place, which bumps the tensor's
`_version`. So when the next backward starts and a sampled parameter still holds the *same*
gradient tensor, with the *same* version it had when the update consumed it, nothing reset
it — the new gradient will be added onto the old one. Only in that suspicious case are the
values looked at: an all-zero gradient was reset through `.data` (which does not bump the
version) and is fine.

A suspect becomes a finding only when the next update consumes that contaminated gradient
(the gradient tensor is still the one recorded after the last backward). So a GAN generator step
that backpropagates through the discriminator's consumed gradients, which `netD.zero_grad()`
resets before they are used, is not reported; gradient accumulation over micro-batches and
closure optimizers (LBFGS calls backward inside `step`) never reach this check.
"""
from __future__ import annotations

import weakref
from typing import Any

import torch

from nndoctor.torch.watch.params import has_nonzero

SAMPLED_PARAMETERS = 4  # a forgotten zero_grad leaves every gradient stale: a few suffice


def _state(param: torch.Tensor) -> tuple[Any, int] | None:
    grad = param.grad
    if grad is None:
        return None
    return weakref.ref(grad), grad._version


def _same(param: torch.Tensor, state: tuple[Any, int]) -> bool:
    grad = param.grad
    return grad is not None and state[0]() is grad and grad._version == state[1]


class StaleGradTracker:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.params: dict[int, torch.Tensor] = {}
        self.consumed: dict[int, tuple[Any, int]] = {}
        self.suspects: dict[int, tuple[Any, int]] = {}

    def sample(self, named_params: list[tuple[str, torch.Tensor]]) -> list[int]:
        """Register up to SAMPLED_PARAMETERS of these parameters; returns their keys."""
        keys = []
        for name, param in named_params:
            if not param.requires_grad:
                continue
            key = id(param)
            if key not in self.params:
                if len(keys) >= SAMPLED_PARAMETERS:
                    break
                self.params[key] = param
                self.names[key] = name
            elif name != "parameter":  # first sampled before its model was known
                self.names[key] = name
            keys.append(key)
            if len(keys) >= SAMPLED_PARAMETERS:
                break
        return keys

    def before_backward(self) -> None:
        if self.suspects:
            for key, state in list(self.suspects.items()):
                if not _same(self.params[key], state):
                    del self.suspects[key]  # reset (zero_grad) since the last backward
        if not self.consumed:
            return
        for key, state in self.consumed.items():
            grad = self.params[key].grad  # `_same` inlined: this runs at every backward
            if (grad is not None and state[0]() is grad and grad._version == state[1]
                    and has_nonzero(grad)):
                self.suspects[key] = state
        self.consumed.clear()

    def after_backward(self) -> None:
        for key in list(self.suspects):
            state = _state(self.params[key])
            if state is None:
                del self.suspects[key]
            else:
                self.suspects[key] = state

    def confirm(self, keys: list[int]) -> list[str]:
        """An update is about to consume the gradients of `keys`: the names of those that
        were accumulated onto a consumed gradient and not reset since."""
        stale: list[str] = []
        if not self.suspects:  # the healthy case, at every update
            return stale
        for key in keys:
            state = self.suspects.pop(key, None)
            # Identity only: clipping or unscaling between backward and step changes the
            # gradient in place (new version) but it is still the contaminated one.
            if state is not None and state[0]() is self.params[key].grad:
                stale.append(self.names[key])
        return stale

    def mark_consumed(self, keys: list[int]) -> None:
        params, consumed = self.params, self.consumed
        for key in keys:  # `_state` inlined: this runs at every update
            grad = params[key].grad
            if grad is not None:
                consumed[key] = (weakref.ref(grad), grad._version)

    def forget(self) -> None:
        self.consumed.clear()
        self.suspects.clear()
