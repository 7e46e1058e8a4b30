"""JAX/Flax adapter: measures Flax NNX and Linen models and optax training; the rules in
nndoctor.rules judge what it measures, exactly as they judge the torch adapter's.

    report = nndoctor.jax.preflight(model, variables, (x, y), loss_fn, optax.adam(1e-3))
    tx = nndoctor.jax.watch(optax.adam(1e-3))      # an optax GradientTransformation
    ...; tx.log(loss=loss, val_loss=val); report = tx.report()

`nndoctor run train_flax.py` does the watching without code changes. jax, flax and optax
are imported only when one of these is used (`pip install 'nndoctor[jax]'`).
"""
from __future__ import annotations

from typing import Any

from nndoctor.jax._deps import require_jax


def preflight(model: Any, params_or_state: Any, batch: Any, loss_fn: Any, optimizer: Any = None, **options: Any) -> Any:
    """See nndoctor.jax.experiments.api.preflight."""
    require_jax()
    from nndoctor.jax.experiments.api import preflight as run_preflight

    return run_preflight(model, params_or_state, batch, loss_fn, optimizer, **options)


def watch(optimizer: Any, **options: Any) -> Any:
    """See nndoctor.jax.optax_watch.watch."""
    require_jax()
    from nndoctor.jax.optax_watch import watch as watch_optimizer

    return watch_optimizer(optimizer, **options)


__all__ = ["preflight", "watch"]
