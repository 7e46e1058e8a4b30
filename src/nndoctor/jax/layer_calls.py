"""See the Flax Dropout and normalisation layers a forward pass calls (Linen and NNX).

Inside `LayerCalls()` their `__call__` is replaced for the time of one trace:

* each call is recorded in order (which layer, dropout rate, whether it is active, the
  normalised input's shape) and wrapped in a named scope, so that `jaxpr_facts.taint`
  can tell which dropout feeds which norm by data flow;
* with `drop=False`, dropout layers return their input unchanged: the preflight copies
  train without dropout (000 §1.1.2) while BatchNorm keeps its batch statistics.
"""
from __future__ import annotations

import math
from typing import Any

import jax
from flax import linen, nnx

from nndoctor.jax import model as model_module
from nndoctor.jax.model import path_name

DROPOUT_SCOPE = "nndoctor_dropout_"
NORM_SCOPE = "nndoctor_norm_"
NORM_KINDS = {"BatchNorm": "batch", "LayerNorm": "layer", "GroupNorm": "group", "RMSNorm": "rms",
              "InstanceNorm": "instance"}


def _classes() -> list[tuple[type, str, str]]:
    found = [(linen.Dropout, "linen", "dropout"), (nnx.Dropout, "nnx", "dropout")]
    for name in NORM_KINDS:
        for namespace, flavour in ((linen, "linen"), (nnx, "nnx")):
            cls = getattr(namespace, name, None)
            if cls is not None:
                found.append((cls, flavour, "norm"))
    return found


class LayerCalls:
    def __init__(self, *, drop: bool = True) -> None:
        self.drop = drop
        self.dropouts: list[dict[str, Any]] = []
        self.norms: list[dict[str, Any]] = []
        self._originals: list[tuple[type, Any]] = []
        self._nnx_paths: dict[int, str] = {}
        self._calls = 0  # dropout and norm calls so far: their shared execution order

    def _next_order(self) -> int:
        self._calls += 1
        return self._calls - 1

    def __enter__(self) -> LayerCalls:
        for cls, flavour, role in _classes():
            original = cls.__dict__.get("__call__")
            if original is None:
                continue
            self._originals.append((cls, original))
            wrapper = self._dropout(original, flavour) if role == "dropout" else self._norm(original, flavour, cls.__name__)
            setattr(cls, "__call__", wrapper)
        model_module.MERGE_OBSERVERS.append(self._observe_merge)
        return self

    def __exit__(self, *exc: Any) -> None:
        for cls, original in self._originals:
            setattr(cls, "__call__", original)
        self._originals.clear()
        model_module.MERGE_OBSERVERS.remove(self._observe_merge)

    def _observe_merge(self, copy: Any) -> None:
        self._nnx_paths = {id(node): path_name(path) for path, node in nnx.iter_graph(copy)
                           if isinstance(node, nnx.Module)}

    def _where(self, module: Any, flavour: str, index: int) -> str:
        if flavour == "linen":
            scope = getattr(module, "scope", None)
            if scope is not None and scope.path:
                return "/".join(scope.path)
        return self._nnx_paths.get(id(module)) or f"{type(module).__name__}_{index}"

    def _dropout(self, original: Any, flavour: str) -> Any:
        calls = self

        def dropout_call(module: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            deterministic = kwargs.get("deterministic", args[0] if args and flavour == "linen" else None)
            if deterministic is None:
                deterministic = getattr(module, "deterministic", False)
            index = len(calls.dropouts)
            rate = float(getattr(module, "rate", 0.0))
            calls.dropouts.append({"where": calls._where(module, flavour, index), "p": rate,
                                   "active": not deterministic and rate > 0, "order": calls._next_order()})
            if not calls.drop:
                return inputs
            with jax.named_scope(f"{DROPOUT_SCOPE}{index}"):
                return original(module, inputs, *args, **kwargs)

        return dropout_call

    def _norm(self, original: Any, flavour: str, class_name: str) -> Any:
        calls = self
        kind = NORM_KINDS[class_name]

        def norm_call(module: Any, x: Any, *args: Any, **kwargs: Any) -> Any:
            index = len(calls.norms)
            record: dict[str, Any] = {"where": calls._where(module, flavour, index), "kind": kind,
                                      "order": calls._next_order(), "scope": f"{NORM_SCOPE}{index}"}
            if kind == "batch":
                running = kwargs.get("use_running_average", args[0] if args else None)
                if running is None:
                    running = getattr(module, "use_running_average", False)
                shape = tuple(getattr(x, "shape", ()))
                record["uses_batch_statistics"] = not running
                record["batch_size"] = int(shape[0]) if shape else 0
                record["values_per_channel"] = int(math.prod(shape[:-1])) if len(shape) > 1 else 1
            calls.norms.append(record)
            with jax.named_scope(record["scope"]):
                return original(module, x, *args, **kwargs)

        return norm_call
