"""Read-only facts about the model itself, taken without running it.

Parameter dtypes (the `low-precision` evidence), whether autocast is on, and the LSTM
forget-gate biases (the `lstm-forget-bias` evidence) come straight from the user's model;
nothing is copied or changed.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


def parameter_dtypes(model: nn.Module) -> dict[str, Any]:
    counts: dict[str, int] = {}
    low: list[str] = []
    for name, parameter in model.named_parameters():
        if isinstance(parameter, nn.parameter.UninitializedParameter):
            continue  # a lazy layer before its first forward has no values yet
        dtype = str(parameter.dtype).replace("torch.", "")
        counts[dtype] = counts.get(dtype, 0) + parameter.numel()
        if parameter.dtype in (torch.float16, torch.bfloat16) and len(low) < 10:
            low.append(name)
    return {"numel_by_dtype": counts, "low_precision_names": low}


def autocast_state() -> list[str]:
    """Devices on which autocast is on right now, as 'cpu:bfloat16'-style strings."""
    active = []
    for device in ("cpu", "cuda"):
        try:
            if torch.is_autocast_enabled(device):
                dtype = str(torch.get_autocast_dtype(device)).replace("torch.", "")
                active.append(f"{device}:{dtype}")
        except (RuntimeError, TypeError, AttributeError):
            continue
    return active


def lstm_forget_biases(model: nn.Module) -> list[dict[str, Any]]:
    """Mean forget-gate bias per LSTM layer and direction (gate order i, f, g, o)."""
    found = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.LSTM, nn.LSTMCell)) and module.bias:
            size = module.hidden_size
            suffixes = [""] if isinstance(module, nn.LSTMCell) else [
                f"_l{layer}{direction}" for layer in range(module.num_layers)
                for direction in ([""] + (["_reverse"] if module.bidirectional else []))
            ]
            for suffix in suffixes:
                with torch.no_grad():
                    total = getattr(module, f"bias_ih{suffix}") + getattr(module, f"bias_hh{suffix}")
                    forget = total[size:2 * size].detach().float().cpu()
                found.append({"name": name or "(model)", "weights": suffix.lstrip("_") or "cell",
                              "hidden_size": size, "forget_bias_mean": float(forget.mean()),
                              "forget_bias_min": float(forget.min())})
    return found
