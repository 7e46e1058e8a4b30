"""Preflight experiment `sharpness`: the top Hessian eigenvalue of the loss on the batch at
the initial weights (nndoctor.torch.tune.sharpness), next to the stability limit of the
user's SGD learning rate, for the rule lr-above-curvature-limit."""
from __future__ import annotations

import math
from typing import Any

import torch

from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.workbench import ExperimentUnavailable, Workbench, disable_dropout


def _stability_settings(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    group = optimizer.param_groups[0]
    lr = float(group.get("initial_lr", group["lr"]))
    momentum = float(group.get("momentum", 0.0) or 0.0)
    return {"optimizer": type(optimizer).__name__, "lr": lr, "momentum": momentum,
            "nesterov": bool(group.get("nesterov", False)), "groups": len(optimizer.param_groups)}


def run(bench: Workbench, m: Measurements) -> None:
    """Preflight experiment: sharpness of the loss on the preflight batch at the initial
    weights, next to the stability limit of the user's SGD learning rate."""
    optimizer = bench.optimizer
    if optimizer is None:
        raise ExperimentUnavailable("no optimizer was given, so there is no learning rate to compare with")
    if type(optimizer) is not torch.optim.SGD:
        raise ExperimentUnavailable(f"the 2/lr curvature limit holds for SGD; {type(optimizer).__name__} rescales "
                                    "each direction, which moves its limit")
    if not bench.trainable():
        raise ExperimentUnavailable("the model has no trainable parameters")
    from nndoctor.torch.tune.sharpness import top_hessian_eigenvalue  # it imports preflight's helpers

    model = bench.fresh_model()
    disable_dropout(model)
    settings = _stability_settings(optimizer)
    try:
        measured = top_hessian_eigenvalue(model, bench.batch.inputs, bench.batch.targets, bench.loss_fn,
                                          seed=bench.options.seed)
    except RuntimeError as error:
        # Ops without a double backward (sparse embedding gradients, some fused kernels)
        # cannot give Hessian-vector products: a limit of the measurement, not a fault.
        detail = str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
        raise ExperimentUnavailable(f"Hessian-vector products are not available for this model ({detail})") from None
    if not math.isfinite(measured["top_eigenvalue"]):
        raise ExperimentUnavailable("the Hessian-vector products were not finite")
    m["sharpness"] = {**measured, **settings, "batch_size": bench.batch.n_samples}

