"""One functional view of a Flax model, NNX or Linen: trainable parameters, the other
state (BatchNorm statistics, NNX RNG counters) and a pure `apply` that jit compiles.

    fm = functional_model(model, params_or_state)
    outputs, new_state = fm.apply(params, state, inputs, key, train=True)

Nothing of the user's is changed: NNX models are split into arrays and merged into fresh
copies inside `apply`; Linen is pure already. Leaf names are '/'-joined tree paths
("Dense_0/kernel", "encoder/layers/0/kernel"); `module_types` maps a leaf's owner path to
the Flax class name ("Dense_0" → "Dense").
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen, nnx

from nndoctor.core.errors import UsageError

# Called with each fresh NNX copy merged inside `apply` (layer_calls uses it to name layers).
MERGE_OBSERVERS: list[Callable[[Any], None]] = []
# Linen `__call__` arguments that switch training behaviour, and their value in training.
LINEN_TRAIN_ARGUMENTS = {"train": True, "training": True, "is_training": True,
                         "deterministic": False, "use_running_average": False}


def path_name(path: tuple) -> str:
    parts = []
    for entry in path:
        if getattr(entry, "name", None) == "value" and not hasattr(entry, "key"):
            continue  # the `.value` of an NNX Variable: not part of the parameter's name
        for attribute in ("key", "name", "idx"):
            if hasattr(entry, attribute):
                parts.append(str(getattr(entry, attribute)))
                break
        else:
            parts.append(str(entry))
    return "/".join(parts)


def leaf_names(tree: Any) -> list[str]:
    return [path_name(path) for path, _ in jax.tree_util.tree_flatten_with_path(tree)[0]]


@dataclass
class FunctionalModel:
    kind: str  # "nnx" or "linen"
    class_name: str
    params: Any
    state: Any
    apply: Callable[..., tuple[Any, Any]]
    module_types: dict[str, str] = field(default_factory=dict)
    train_argument: str | None = None

    def names(self) -> list[str]:
        return leaf_names(self.params)

    def module_type(self, leaf: str) -> str:
        owner = leaf.rsplit("/", 1)[0] if "/" in leaf else ""
        return self.module_types.get(owner, owner.rsplit("/", 1)[-1].rsplit("_", 1)[0] or self.class_name)


def functional_model(model: Any, params_or_state: Any) -> FunctionalModel:
    if isinstance(model, nnx.Module):
        return _nnx_model(model, params_or_state)
    if isinstance(model, linen.Module):
        return _linen_model(model, params_or_state)
    raise UsageError(
        f"expected a Flax nnx.Module or linen.Module as the model, got {type(model).__name__}")


def _nnx_model(model: nnx.Module, params_or_state: Any) -> FunctionalModel:
    if params_or_state is not None and not isinstance(params_or_state, nnx.State):
        raise UsageError("for a Flax NNX model pass params_or_state=None (the model holds its state) "
                         f"or the nnx.State of nnx.split(model), got {type(params_or_state).__name__}")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # Pure arrays, not the State's Variable objects: a Variable made outside a trace cannot
    # be mutated inside one (NNX's RNG counters are, at every dropout call).
    rest = nnx.to_pure_dict(rest)
    if isinstance(params_or_state, nnx.State):
        params = nnx.filter_state(params_or_state, nnx.Param) if hasattr(nnx, "filter_state") else params_or_state
    types = {path_name(path): type(node).__name__ for path, node in nnx.iter_graph(model)
             if isinstance(node, nnx.Module)}

    def apply(params: Any, state: Any, inputs: Any, key: Any, train: bool) -> tuple[Any, Any]:
        copy = nnx.merge(graphdef, params, state)
        for observer in MERGE_OBSERVERS:
            observer(copy)
        if train:
            copy.train()
        else:
            copy.eval()
        outputs = call_with(copy, inputs)
        return outputs, nnx.to_pure_dict(nnx.state(copy, nnx.Not(nnx.Param)))

    return FunctionalModel("nnx", type(model).__name__, nnx.to_pure_dict(params), rest, apply, types)


def _linen_variables(params_or_state: Any) -> tuple[dict[str, Any], Any]:
    """(variables, optimizer found alongside): a variables dict, a bare params dict, or a
    flax TrainState (its `tx` is the user's optimizer when none is given)."""
    if hasattr(params_or_state, "params") and hasattr(params_or_state, "apply_fn"):
        variables = {"params": params_or_state.params}
        for collection in ("batch_stats",):
            if getattr(params_or_state, collection, None) is not None:
                variables[collection] = getattr(params_or_state, collection)
        return variables, getattr(params_or_state, "tx", None)
    if not isinstance(params_or_state, dict) or not params_or_state:
        raise UsageError("for a Linen model pass its variables (model.init(key, x)), its params or a "
                         f"flax TrainState as params_or_state, got {type(params_or_state).__name__}")
    if "params" in params_or_state:
        return dict(params_or_state), None
    return {"params": params_or_state}, None


def _linen_model(model: linen.Module, params_or_state: Any) -> FunctionalModel:
    variables, _ = _linen_variables(params_or_state)
    params = variables["params"]
    state = {name: value for name, value in variables.items() if name != "params"}
    try:
        signature = inspect.signature(type(model).__call__)
        train_argument = next((name for name in signature.parameters if name in LINEN_TRAIN_ARGUMENTS), None)
    except (TypeError, ValueError):
        train_argument = None

    def apply(params: Any, state: Any, inputs: Any, key: Any, train: bool) -> tuple[Any, Any]:
        kwargs = {}
        if train_argument is not None:
            wanted = LINEN_TRAIN_ARGUMENTS[train_argument]
            kwargs[train_argument] = wanted if train else not wanted
        mutable = list(state) if train and state else False
        positional, keywords = split_inputs(inputs)
        result = model.apply({"params": params, **state}, *positional, **keywords, **kwargs,
                             rngs={"dropout": key}, mutable=mutable)
        if mutable:
            outputs, updated = result
            return outputs, {**state, **updated}
        return result, state

    return FunctionalModel("linen", type(model).__name__, params, state, apply, {}, train_argument)


def linen_optimizer(params_or_state: Any) -> Any:
    """The optimizer of a flax TrainState, if that is what was passed."""
    return getattr(params_or_state, "tx", None) if hasattr(params_or_state, "apply_fn") else None


def split_inputs(inputs: Any) -> tuple[tuple, dict]:
    if isinstance(inputs, dict):
        return (), inputs
    if isinstance(inputs, (tuple, list)):
        return tuple(inputs), {}
    return (inputs,), {}


def call_with(function: Callable[..., Any], inputs: Any) -> Any:
    positional, keywords = split_inputs(inputs)
    return function(*positional, **keywords)


def primary_output(outputs: Any) -> Any:
    """The prediction among the outputs: the array itself or the first array leaf."""
    if isinstance(outputs, jax.Array):
        return outputs
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(outputs) if isinstance(leaf, jax.Array)]
    return leaves[0] if leaves else None


def floating(leaf: Any) -> bool:
    return hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating)
