"""`nndoctor.tune.weight_decay_sweep(model, loader_or_batches, loss_fn, optimizer)`: where
the weight decay goes and what it does, measured on copies.

* Groups: per param group its weight_decay and how many weight matrices (dim ≥ 2) and
  vectors (biases, normalisation scales) it holds — decay belongs on the matrices.
* Effective decay: two copies trained `probe_steps` steps on the same batches, with the
  user's decay and with none; the shrink of the weights caused by the decay, projected on
  the weights, against the shrink decoupled decay of that value would cause
  (steps·lr·wd). AdamW (and SGD without momentum) give ≈ 1; Adam's coupled L2 term is
  divided by the adaptive denominator and mostly lost (Loshchilov & Hutter 2019).
* Sweep: 003 §4.5.4's values 10^{-6, -5, -4, -3} and 0, each trained `budget_steps` from
  the same initial weights and batch order; train and held-out loss and the weight norm.
"""
from __future__ import annotations

import time
from typing import Any

import torch

from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.workbench import seed_everything
from nndoctor.torch.tune.batches import collect_batches
from nndoctor.torch.tune.trainer import TuningTrainer, measured_on_copies
from nndoctor.tune.results import WeightDecayResult

CALLER = "weight_decay_sweep()"
SWEEP_VALUES = (0.0, 1e-6, 1e-5, 1e-4, 1e-3)  # 003 §4.5.4
# Ten steps: long enough for Adam's moment estimates to settle, short enough that the
# weights stay close to where they started (the projection on them stays meaningful).
PROBE_STEPS = 10
# A decay that is coupled to the gradient (an L2 term) rather than applied to the weights.
COUPLED_ADAPTIVE = (torch.optim.Adam, torch.optim.NAdam, torch.optim.RAdam, torch.optim.Adamax,
                    torch.optim.Adagrad, torch.optim.RMSprop)


def _decoupled(optimizer: torch.optim.Optimizer) -> bool:
    if isinstance(optimizer, torch.optim.AdamW):
        return True
    flag = optimizer.defaults.get("decoupled_weight_decay")
    return bool(flag) if flag is not None else not isinstance(optimizer, COUPLED_ADAPTIVE)


def _groups(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    return [{"index": i, "weight_decay": float(g.get("weight_decay", 0.0) or 0.0),
             "matrices": sum(p.dim() >= 2 for p in g["params"]), "vectors": sum(p.dim() < 2 for p in g["params"]),
             "parameters": int(sum(p.numel() for p in g["params"]))} for i, g in enumerate(optimizer.param_groups)]


def _set_decay(optimizer: torch.optim.Optimizer, value: float, pattern: list[float]) -> None:
    """`value` on the groups the user decays (all groups if none is decayed)."""
    decayed = [w > 0 for w in pattern]
    for group, on in zip(optimizer.param_groups, decayed if any(decayed) else [True] * len(pattern)):
        group["weight_decay"] = value if on else 0.0


def _matrix_norm(model: torch.nn.Module) -> float:
    return float(sum(float((p.detach() ** 2).sum()) for p in model.parameters() if p.dim() >= 2) ** 0.5)


def _mean_loss(trainer: TuningTrainer, model: torch.nn.Module, batches: list[tuple[Any, Any]]) -> float:
    model.eval()
    with torch.no_grad():
        values = [float(trainer.bench.loss(model, x, y)) for x, y in batches]
    model.train()
    return sum(values) / len(values)


def _effective_decay(trainer: TuningTrainer, pattern: list[float], order: list[int], seed: int) -> dict[str, Any] | None:
    """Decay-caused shrink of the decayed matrices over PROBE_STEPS steps, relative to
    decoupled decay of the user's value."""
    value = max(pattern)
    if value <= 0:
        return None
    runs = []
    for decay in (value, 0.0):
        seed_everything(seed)
        model, optimizer = trainer.fresh()
        _set_decay(optimizer, decay, pattern)
        start = [p.detach().clone() for p in model.parameters()]
        trainer.train(model, optimizer, lambda step: trainer.user_lr, order)
        runs.append([p.detach() for p in model.parameters()])
    # Copies are separate objects: the decayed matrices are found by position.
    position = {id(p): i for i, p in enumerate(model.parameters())}
    chosen = [position[id(p)] for g, w in zip(optimizer.param_groups, pattern) if w > 0 for p in g["params"]
              if p.dim() >= 2]
    if not chosen:
        return {"ratio": None, "value": value, "reason": "no weight matrix is in a decayed group"}
    shrink = sum(float(((runs[1][i] - runs[0][i]) * start[i]).sum()) for i in chosen)
    expected = _expected_factor(optimizer) if _decoupled(optimizer) else None
    nominal = sum(PROBE_STEPS * trainer.user_lr * value * float((start[i] ** 2).sum()) for i in chosen)
    return {"ratio": shrink / nominal if nominal > 0 else None, "expected_ratio": expected, "value": value,
            "steps": PROBE_STEPS, "lr": trainer.user_lr, "matrices": len(chosen)}


def _expected_factor(optimizer: torch.optim.Optimizer) -> float:
    """How much the decay term of one step is amplified over PROBE_STEPS: 1 for decoupled
    decay; SGD's momentum carries an L2 term into later steps too (→ 1/(1−β) in the long
    run). Measured by the same SGD recurrence on a constant unit gradient."""
    if not isinstance(optimizer, torch.optim.SGD):
        return 1.0
    group = optimizer.param_groups[0]
    weight = torch.zeros(1, requires_grad=True)
    probe = torch.optim.SGD([weight], lr=1.0, momentum=group.get("momentum", 0.0),
                            dampening=group.get("dampening", 0.0), nesterov=group.get("nesterov", False))
    for _ in range(PROBE_STEPS):
        weight.grad = torch.ones(1)
        probe.step()
    return float(-weight.detach()) / PROBE_STEPS


def weight_decay_sweep(model: Any, loader_or_batches: Any, loss_fn: Any, optimizer: Any, *,
                       values: tuple[float, ...] = SWEEP_VALUES, budget_steps: int = 100, max_batches: int = 64,
                       seed: int = 0) -> WeightDecayResult:
    if isinstance(budget_steps, bool) or not isinstance(budget_steps, int) or budget_steps < PROBE_STEPS:
        raise UsageError(f"{CALLER}: budget_steps must be an int ≥ {PROBE_STEPS}, got {budget_steps!r}")
    batches = collect_batches(loader_or_batches, max_batches=max_batches, caller=CALLER)
    trainer = TuningTrainer(model, batches, loss_fn, optimizer, CALLER)
    started = time.perf_counter()
    with measured_on_copies(model, optimizer):
        probe_optimizer = trainer.fresh()[1]
        groups = _groups(probe_optimizer)
        pattern = [g["weight_decay"] for g in groups]
        order = trainer.order(seed, budget_steps)
        effective = _effective_decay(trainer, pattern, order[:PROBE_STEPS], seed)
        sweep = []
        scored_train = [batches.train[i] for i in sorted(set(order))[: len(batches.held_out)]]
        for value in values:
            seed_everything(seed)
            copy, copy_optimizer = trainer.fresh()
            _set_decay(copy_optimizer, value, pattern)
            losses = trainer.train(copy, copy_optimizer, lambda step: trainer.user_lr, order)
            finite = len(losses) == len(order)
            sweep.append({"weight_decay": value,
                          "train_loss": _mean_loss(trainer, copy, scored_train) if finite else None,
                          "held_out_loss": trainer.held_out_loss(copy) if finite else None,
                          "weight_norm": _matrix_norm(copy)})
    return WeightDecayResult(optimizer=trainer.optimizer_name, decoupled=_decoupled(probe_optimizer),
                             budget_steps=budget_steps, sweep=sweep, groups=groups, effective_decay=effective,
                             seconds=round(time.perf_counter() - started, 3))
