"""Facts read from the jaxpr of one forward pass (what XLA will compute), no execution:

* `output_source`: what produced the model's output — softmax, log_softmax, sigmoid or
  raw logits — for the loss-input rules (the torch adapter reads the autograd graph);
* `low_precision_matmuls`: matrix products and convolutions computed in bfloat16/float16
  (Flax `dtype=jnp.bfloat16`) although the parameters may be float32;
* `taint`: which dropout calls feed which normalisation calls, by data flow (the
  dropout-with-normalization rule), from the named scopes `layer_calls` puts around
  each Flax Dropout/Norm call.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from jax.extend import core as jax_core

SHAPE_ONLY = {"reshape", "squeeze", "expand_dims", "broadcast_in_dim", "transpose", "slice",
              "convert_element_type", "copy", "copy_p", "dynamic_slice", "gather", "concatenate",
              "rev", "select_n"}
MATMUL_PRIMITIVES = {"dot_general", "conv_general_dilated"}
LOW_PRECISION = {"bfloat16", "float16"}


def _sub_jaxprs(eqn: Any) -> list[Any]:
    found = []
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        value = eqn.params.get(key)
        if value is None:
            continue
        found.append(value.jaxpr if hasattr(value, "jaxpr") else value)
    for branch in eqn.params.get("branches", ()) or ():
        found.append(branch.jaxpr if hasattr(branch, "jaxpr") else branch)
    return found


def iter_eqns(jaxpr: Any) -> Iterator[Any]:
    for eqn in jaxpr.eqns:
        yield eqn
        for inner in _sub_jaxprs(eqn):
            yield from iter_eqns(inner)


def _producers(jaxpr: Any) -> dict[Any, Any]:
    return {var: eqn for eqn in jaxpr.eqns for var in eqn.outvars}


def _source(var: Any, producers: dict[Any, Any], depth: int = 0) -> str:
    eqn = producers.get(var)
    if eqn is None or depth > 24:
        return "raw"
    name = eqn.primitive.name
    if name == "logistic":
        return "sigmoid"
    if name in ("pjit", "jit", "custom_jvp_call", "custom_vjp_call"):
        label = str(eqn.params.get("name", ""))
        if "log_softmax" in label:
            return "log_softmax"
        if "softmax" in label:
            return "softmax"
        if "sigmoid" in label or "logistic" in label:
            return "sigmoid"
        return "raw"
    if name in SHAPE_ONLY and eqn.invars and isinstance(eqn.invars[0], jax_core.Var):
        return _source(eqn.invars[0], producers, depth + 1)
    if name == "div" and len(eqn.invars) == 2:
        numerator = producers.get(eqn.invars[0])
        if numerator is not None and numerator.primitive.name == "exp":
            return "softmax"  # exp(x - max) / sum(exp(x - max)): jax.nn.softmax, or by hand
    if name == "sub" and len(eqn.invars) == 2:
        subtrahend = producers.get(eqn.invars[1])
        while subtrahend is not None and subtrahend.primitive.name in SHAPE_ONLY | {"add", "stop_gradient"}:
            subtrahend = producers.get(subtrahend.invars[0])
        if subtrahend is not None and subtrahend.primitive.name == "log":
            return "log_softmax"  # x - log(sum(exp(x))): a log-softmax by hand
    return "raw"


def output_source(closed: Any) -> str:
    """What produced the first output of `closed` (a ClosedJaxpr)."""
    jaxpr = closed.jaxpr
    if not jaxpr.outvars or not isinstance(jaxpr.outvars[0], jax_core.Var):
        return "unknown"
    return _source(jaxpr.outvars[0], _producers(jaxpr))


def low_precision_matmuls(closed: Any) -> dict[str, int]:
    """{dtype: number of matmuls/convolutions with an operand in that low-precision dtype}."""
    counts: dict[str, int] = {}
    for eqn in iter_eqns(closed.jaxpr):
        if eqn.primitive.name not in MATMUL_PRIMITIVES:
            continue
        dtypes = {str(var.aval.dtype) for var in eqn.invars if hasattr(var, "aval")}
        for dtype in dtypes & LOW_PRECISION:
            counts[dtype] = counts.get(dtype, 0) + 1
    return counts


def scopes_of(eqn: Any, prefix: str) -> list[str]:
    return [part for part in str(eqn.source_info.name_stack).split("/") if part.startswith(prefix)]


def taint(closed: Any, source_prefix: str, sink_prefix: str) -> dict[str, set[str]]:
    """For each sink scope, the source scopes whose outputs reach its inputs by data flow."""
    marks: dict[Any, frozenset[str]] = {}
    reached: dict[str, set[str]] = {}
    _flow(closed.jaxpr, marks, source_prefix, sink_prefix, reached)
    return reached


def _flow(jaxpr: Any, marks: dict[Any, frozenset[str]], source_prefix: str, sink_prefix: str,
          reached: dict[str, set[str]]) -> None:
    for eqn in jaxpr.eqns:
        incoming = frozenset().union(*(marks.get(v, frozenset()) for v in eqn.invars if isinstance(v, jax_core.Var)))
        for sink in scopes_of(eqn, sink_prefix):
            # Everything inside a norm's scope is computed from the norm's inputs (and its
            # parameters), so the marks seen there are those of its inputs.
            reached.setdefault(sink, set()).update(incoming)
        inner = _sub_jaxprs(eqn)
        if inner and len(inner) == 1 and len(inner[0].invars) == len(eqn.invars):
            inner_marks = {iv: marks.get(ov, frozenset()) for iv, ov in zip(inner[0].invars, eqn.invars)
                           if isinstance(ov, jax_core.Var)}
            _flow(inner[0], inner_marks, source_prefix, sink_prefix, reached)
            outgoing = [inner_marks.get(v, frozenset()) if isinstance(v, jax_core.Var) else frozenset()
                        for v in inner[0].outvars]
        else:
            outgoing = [incoming] * len(eqn.outvars)
        own = frozenset(scopes_of(eqn, source_prefix))
        for var, mark in zip(eqn.outvars, outgoing):
            marks[var] = mark | own
