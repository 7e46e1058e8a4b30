"""Live training dynamics: bounded statistics of loss, gradients, updates and activations
(DynamicsMonitor), judged by the rules in nndoctor.rules.dynamics."""
from nndoctor.torch.dynamics.monitor import DynamicsMonitor

__all__ = ["DynamicsMonitor"]
