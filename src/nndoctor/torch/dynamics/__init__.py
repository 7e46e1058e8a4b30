"""Live training dynamics: bounded statistics of loss, gradients, updates and activations
(DynamicsMonitor), judged by the rules in nndoctor.rules.dynamics.

`DynamicsMonitor` is imported lazily so that `nndoctor.live.series` (plain
Python) can be used without importing torch.
"""
from typing import Any

__all__ = ["DynamicsMonitor"]


def __getattr__(name: str) -> Any:
    if name == "DynamicsMonitor":
        from nndoctor.torch.dynamics.monitor import DynamicsMonitor

        return DynamicsMonitor
    raise AttributeError(name)
