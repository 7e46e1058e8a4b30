"""One backward and one step of the user's optimizer on a copy: which parameters get a
gradient, which are in the optimizer, which actually change (000 §1.4: "weights frozen or
left out of the update, gradients zero or NaN")."""
from __future__ import annotations

import torch

from nndoctor.core.rule import Measurements
from nndoctor.torch.preflight.workbench import Workbench


def _dense(grad: torch.Tensor) -> torch.Tensor:
    """Sparse gradients (nn.Embedding(sparse=True)) as their stored values."""
    grad = grad.detach()
    return grad.coalesce().values().clone() if grad.is_sparse else grad.clone()


def run(bench: Workbench, m: Measurements) -> None:
    model = bench.fresh_model()
    names = [name for name, _ in model.named_parameters()]
    parameters = list(model.parameters())
    in_optimizer: set[int] | None = None
    if bench.optimizer is not None:
        position = {id(p): i for i, p in enumerate(bench.model.parameters())}
        in_optimizer = {position[id(p)] for g in bench.optimizer.param_groups for p in g["params"] if id(p) in position}
    optimizer = bench.user_optimizer(model)
    with torch.enable_grad():
        for p in parameters:
            p.grad = None
        loss = bench.loss(model, bench.batch.inputs, bench.batch.targets)
        if loss.requires_grad:
            loss.backward()
        grads = [None if p.grad is None else _dense(p.grad) for p in parameters]
        before = [p.detach().clone() for p in parameters]
        stepped = optimizer is not None and loss.requires_grad
        if stepped:
            bench.step(model, optimizer, bench.batch.inputs, bench.batch.targets)
    status = []
    for index, (name, param) in enumerate(zip(names, parameters)):
        grad = grads[index]
        status.append({
            "name": name,
            "shape": list(param.shape),
            "numel": param.numel(),
            "trainable": param.requires_grad,
            "in_optimizer": None if in_optimizer is None else index in in_optimizer,
            "got_grad": grad is not None,
            "grad_all_zero": bool(grad is not None and not bool(grad.ne(0).any())),
            "grad_non_finite": bool(grad is not None and not bool(torch.isfinite(grad).all())),
            "changed": (not torch.equal(before[index], param.detach())) if stepped else None,
            # Magnitudes let params-not-updated tell a missed update from one too small to
            # show in float32 (the bias before a BatchNorm gets a gradient of ~1e-9).
            "grad_abs_max": float(grad.abs().max()) if grad is not None and grad.numel() else None,
            "value_abs_max": float(before[index].abs().max()) if param.numel() else 0.0,
        })
    m["parameter_status"] = status
    m["steps_observed"] = 1 if stepped else 0
    # A loss that does not require grad (detached, .item() re-wrapped, computed under
    # no_grad) gives every parameter no gradient: the no-gradient rule names that cause.
    m["loss_detached"] = bool(bench.trainable() and not loss.requires_grad)
