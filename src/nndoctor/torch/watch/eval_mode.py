"""Which modules behave differently in training and evaluation mode (002 #2).

Dropout zeroes random units only in training mode; batch normalisation uses the batch's
statistics and updates its running averages only in training mode. A forward pass run with
gradients disabled (an evaluation pass) while such modules are still in training mode gives
noisy, batch-dependent results and, for BatchNorm, lets evaluation data leak into the
running statistics.
"""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.dropout import _DropoutNd
from torch.nn.modules.instancenorm import _InstanceNorm

MAX_NAMES = 8


def mode_dependent(module: nn.Module) -> bool:
    if isinstance(module, (_DropoutNd, nn.AlphaDropout, nn.FeatureAlphaDropout)):
        return module.p > 0
    if isinstance(module, _BatchNorm):
        return True
    if isinstance(module, _InstanceNorm):
        return bool(module.track_running_stats)
    if isinstance(module, nn.MultiheadAttention):
        return module.dropout > 0
    if isinstance(module, nn.RNNBase):
        return module.dropout > 0 and module.num_layers > 1
    return False


def mode_kind(module: nn.Module) -> str:
    """'dropout', 'batchnorm', 'instancenorm', 'attention-dropout' or 'rnn-dropout'."""
    if isinstance(module, _BatchNorm):
        return "batchnorm"
    if isinstance(module, _InstanceNorm):
        return "instancenorm"
    if isinstance(module, nn.MultiheadAttention):
        return "attention-dropout"
    if isinstance(module, nn.RNNBase):
        return "rnn-dropout"
    return "dropout"


def mode_dependent_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name or type(model).__name__, m) for name, m in model.named_modules() if mode_dependent(m)]


def training_mode_names(modules: list[tuple[str, nn.Module]]) -> list[str]:
    return [f"{name} ({type(m).__name__})" for name, m in modules if m.training]
