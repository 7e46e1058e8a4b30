"""Architecture facts from one trace of the forward pass (nothing executes):

* `parameter_dtypes`: bfloat16/float16 parameters;
* `autocast_active`: reduced-precision compute while debugging (000 §1.1.4) — matrix
  products in bfloat16/float16 (Flax `dtype=jnp.bfloat16`) and a
  `jax_default_matmul_precision` other than float32 (unset counts only on GPU/TPU, where
  XLA then multiplies float32 inputs in reduced precision; on CPU it is exact);
* `dropout_normalization` / `batchnorm_layers`: the Dropout and norm layers called, which
  dropout feeds which norm by data flow, and the batch BatchNorm normalises over.
"""
from __future__ import annotations

from typing import Any

import jax
import numpy as np

from nndoctor.core.rule import Measurements
from nndoctor.jax.jaxpr_facts import low_precision_matmuls, taint
from nndoctor.jax.layer_calls import DROPOUT_SCOPE, NORM_SCOPE, LayerCalls
from nndoctor.jax.model import leaf_names
from nndoctor.jax.experiments.bench import Bench

LOW_PRECISION = {"bfloat16", "float16"}
FULL_PRECISION_SETTINGS = {"float32", "highest", "F32"}


def parameter_dtypes(params: Any) -> dict[str, Any]:
    counts: dict[str, int] = {}
    low = []
    for name, leaf in zip(leaf_names(params), jax.tree_util.tree_leaves(params)):
        dtype = str(leaf.dtype)
        counts[dtype] = counts.get(dtype, 0) + int(np.size(leaf))
        if dtype in LOW_PRECISION:
            low.append(name)
    return {"numel_by_dtype": counts, "low_precision_names": low}


def precision_setting() -> str | None:
    """The reduced-precision matmul setting in force, described, or None when exact."""
    setting = jax.config.jax_default_matmul_precision
    if setting is not None:
        return None if str(setting) in FULL_PRECISION_SETTINGS else f"jax_default_matmul_precision={setting!r}"
    backend = jax.default_backend()
    if backend in ("gpu", "cuda", "rocm", "tpu"):
        return f"jax_default_matmul_precision unset on {backend} (float32 matmuls run in reduced precision)"
    return None


def run(bench: Bench, m: Measurements) -> None:
    model, batch = bench.model, bench.batch
    m["parameter_dtypes"] = parameter_dtypes(model.params)
    m["training_batch_size"] = batch.n_samples
    with LayerCalls(drop=True) as calls:
        closed = jax.make_jaxpr(lambda p, x: model.apply(p, model.state, x, bench.key, True)[0])(
            model.params, batch.inputs)
    reduced = [f"{count} matrix products in {dtype}" for dtype, count in sorted(low_precision_matmuls(closed).items())]
    setting = precision_setting()
    m["autocast_active"] = reduced + ([setting] if setting else [])
    fed = taint(closed, DROPOUT_SCOPE, NORM_SCOPE)
    dropouts = [{"where": d["where"], "p": d["p"] if d["active"] else 0.0, "order": d["order"]} for d in calls.dropouts]
    norms = []
    for norm in calls.norms:
        sources = sorted(int(name.removeprefix(DROPOUT_SCOPE)) for name in fed.get(norm["scope"], ()))
        record = {"where": norm["where"], "kind": norm["kind"], "order": norm["order"], "fed_by_dropouts": sources}
        if norm["kind"] == "batch":
            record.update(batch_size=norm["batch_size"], values_per_channel=norm["values_per_channel"])
        norms.append(record)
    m["dropout_normalization"] = {"dropout": dropouts, "normalization": norms}
    m["batchnorm_layers"] = [
        {"where": n["where"], "kind": "batch", "batch_size": n["batch_size"], "values_per_channel": n["values_per_channel"]}
        for n, raw in zip(norms, calls.norms) if n["kind"] == "batch" and raw["uses_batch_statistics"]]
