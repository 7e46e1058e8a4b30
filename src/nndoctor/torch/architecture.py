"""Architecture measurements taken before training, on a deep copy of the model.

`measure_architecture(model, inputs, targets, m)` runs ONE forward pass of a deep copy of
the model on the real batch under `torch.no_grad()`, watching it two ways:

* forward hooks on the weight layers (Linear, Conv, RNN, attention…) record the RMS of
  each layer's output in execution order — the activation scale across depth at init;
* a `TorchFunctionMode` sees every torch function call (module or functional alike):
  dropout, batch/layer/group norm, sigmoid and what consumes its output (a weight layer =
  a hidden activation; a multiplication with another tensor = a gate; nothing = the model's
  output), the activation applied to each weight layer, and the provenance of the output.

Read-only facts come from the original model (parameter dtypes, LSTM forget-gate biases).
The user's model, its gradients, buffers, modes and the RNG state are left bit-identical.
Every value stored in `m` is plain Python (lists, dicts, numbers, strings).
"""
from __future__ import annotations

import copy
import math
import random
import weakref
from typing import Any

import numpy
import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from nndoctor.core.rule import Measurements

WEIGHT_LAYERS = (
    nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
    nn.ConvTranspose2d, nn.ConvTranspose3d, nn.RNNBase, nn.MultiheadAttention,
)
# Ops whose first argument is multiplied by learned weights: a sigmoid feeding one of
# these is a hidden activation (003 §4.5.3 #15 keeps sigmoid for gates and binary outputs).
WEIGHTED_OPS = {
    "linear", "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "lstm", "gru", "rnn_tanh", "rnn_relu", "multi_head_attention_forward",
}
MATMUL_OPS = {"matmul", "rmatmul", "mm", "bmm", "einsum"}
MULTIPLY_OPS = {"mul", "rmul", "multiply", "addcmul"}
SIGMOID_OPS = {"sigmoid"}
DROPOUT_OPS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}
NORM_OPS = {"batch_norm": "batch", "layer_norm": "layer", "group_norm": "group",
            "instance_norm": "instance", "rms_norm": "rms"}
ACTIVATION_OPS = {
    "relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish", "tanh",
    "sigmoid", "softplus", "hardtanh", "hardswish", "hardsigmoid", "prelu", "rrelu", "softsign",
    "softmax", "log_softmax",
}
# Ops that move, select or rescale values without mixing them with another activation:
# a tensor keeps its provenance through them.
PASS_THROUGH_OPS = {
    "view", "reshape", "flatten", "squeeze", "unsqueeze", "permute", "transpose", "t",
    "contiguous", "clone", "to", "float", "double", "half", "bfloat16", "getitem", "select",
    "narrow", "expand", "repeat", "cat", "stack", "concat", "split", "chunk", "unbind",
    "dropout", "dropout1d", "dropout2d", "dropout3d", "sigmoid", "softmax", "log_softmax",
    "add", "radd", "sub", "rsub", "mul", "rmul", "div", "truediv", "rtruediv", "neg", "clamp",
}
FINAL_ACTIVATIONS = {"sigmoid", "softmax", "log_softmax"}
SATURATION_LIMITS = {"tanh": 3.0, "sigmoid": 5.0}  # |x| beyond which the slope is < 1%
MAX_CLASSES = 1000  # larger heads (language-model vocabularies) are not judged per class


def measure_architecture(
    model: nn.Module, inputs: Any, targets: Any, m: Measurements, *, batch_size: int | None = None
) -> None:
    """Fill `m` with the architecture measurements of `model` on one batch.

    `inputs` is what the model is called with: a tensor (`model(x)`), a tuple or list
    (`model(*inputs)`), a dict (`model(**inputs)`) or a namedtuple (`model(batch)`). `batch_size` is the training batch
    size when it differs from this batch's. Faults inside nndoctor are recorded in
    `m["internal_faults"]`; a model that cannot be copied or run is marked unavailable.
    """
    if batch_size is not None:
        m["training_batch_size"] = int(batch_size)
    forward_names = ("layer_activation_rms", "dropout_normalization", "batchnorm_layers",
                     "sigmoid_uses", "output_layer")
    try:
        m["parameter_dtypes"] = parameter_dtypes(model)
        m["autocast_active"] = autocast_state()
        m["lstm_forget_biases"] = lstm_forget_biases(model)
        trace = trace_forward(model, inputs)
    except _ModelFailed as failure:
        for name in forward_names:
            m.mark_unavailable(name, str(failure))
        return
    except Exception as error:  # noqa: BLE001 — a fault of nndoctor, never the user's
        m.setdefault("internal_faults", []).append({
            "source": "architecture measurement", "exception": type(error).__name__,
            "detail": str(error)[:500], "step": None, "count": 1,
        })
        for name in forward_names + ("parameter_dtypes", "lstm_forget_biases"):
            if name not in m:
                m.mark_unavailable(name, "nndoctor's architecture measurement failed (see internal-error)")
        return
    m["layer_activation_rms"] = trace.layers
    m["dropout_normalization"] = {"dropout": trace.dropouts, "normalization": trace.norms}
    m["batchnorm_layers"] = [dict(n) for n in trace.norms if n["kind"] == "batch"]
    m["sigmoid_uses"] = trace.sigmoid_records()
    m["output_layer"] = describe_output(trace, targets)
    m["autocast_active"] = sorted(set(m["autocast_active"]) | trace.autocast_in_forward)


class _ModelFailed(Exception):
    """The user's forward pass raised: not nndoctor's fault, but nothing was measured."""


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


class _Trace:
    """What one forward pass showed; tensors are kept only until the pass ends."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: list[str] = []
        self.layers: list[dict[str, Any]] = []
        self.layer_names: set[str] = set()
        self.measuring = False  # our own tensor ops inside hooks are not the model's
        # Maps keyed by id(tensor) forget an entry when its tensor dies (see `_remember`), so
        # nothing is kept alive beyond a normal no-grad forward and ids are never confused.
        self.layer_of: dict[int, int] = {}          # id(weight-layer output) -> index in layers
        self.origin: dict[int, int] = {}            # id(tensor) -> index of the layer it comes from
        self.sigmoids: list[dict[str, Any]] = []
        self.sigmoid_of: dict[int, set[int]] = {}   # id(tensor) -> sigmoid indices it carries
        self.dropouts: list[dict[str, Any]] = []
        self.dropout_taint: dict[int, set[int]] = {}  # id(tensor) -> dropouts its values passed through
        self.norms: list[dict[str, Any]] = []
        self.order = 0
        self.autocast_in_forward: set[str] = set()
        self.output: Any = None
        self.activation_on: dict[int, str] = {}    # id(tensor) -> sigmoid/softmax it went through

    def leave(self) -> None:
        """Forward hook: must return None, or it would replace the module's output."""
        if self.stack:
            self.stack.pop()

    def where(self) -> str:
        return self.stack[-1] if self.stack else "(model)"

    def on_layer_output(self, name: str, module: nn.Module, args: tuple, output: Any) -> None:
        self.autocast_in_forward.update(autocast_state())
        tensor = output[0] if isinstance(output, (tuple, list)) else output
        if not isinstance(tensor, torch.Tensor) or name in self.layer_names:
            return  # first call only: RNN cells and shared layers run many times
        self.measuring = True
        try:
            record = self._layer_record(name, module, args, tensor)
        finally:
            self.measuring = False
        self.layer_names.add(name)
        _remember(self.layer_of, tensor, len(self.layers))
        _remember(self.origin, tensor, len(self.layers))
        self.layers.append(record)

    def _layer_record(self, name: str, module: nn.Module, args: tuple, tensor: torch.Tensor) -> dict[str, Any]:
        values = tensor.detach().float()
        record: dict[str, Any] = {
            "name": name, "kind": type(module).__name__, "rms": _rms(values),
            "dtype": str(tensor.dtype).replace("torch.", ""), "activation": None,
            "saturated_fraction": None, "input_rms": None,
            # the input-dependent part: spread across samples (dim 0), not the bias
            "signal_rms": _rms(values.std(0, unbiased=False)) if values.dim() and values.shape[0] > 1 else None,
        }
        if args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
            record["input_rms"] = _rms(args[0].detach().float())
        return record

    def on_op(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        if self.measuring:
            return
        tensors = [a for a in _flat(args) + _flat(list(kwargs.values())) if isinstance(a, torch.Tensor)]
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.order += 1
        taint = set().union(*(self.dropout_taint.get(id(t), set()) for t in tensors)) if tensors else set()
        if name in NORM_OPS and first is not None:
            self._on_norm(name, args, kwargs, first, self.dropout_taint.get(id(first), set()))
        if name in DROPOUT_OPS:
            p = float(kwargs.get("p", args[1] if len(args) > 1 and not isinstance(args[1], bool) else 0.5))
            training = bool(kwargs.get("training", args[2] if len(args) > 2 else True))
            if p > 0 and training:
                self.dropouts.append({"where": self.where(), "p": p, "order": self.order})
                taint = taint | {len(self.dropouts) - 1}
        if taint:
            self._taint(out, taint)
        if first is not None and id(first) in self.layer_of and name in ACTIVATION_OPS:
            self._on_activation(name, first)
        self._track_sigmoid(name, args, tensors, first, out)
        self._track_origin(name, tensors, out)

    def _taint(self, out: Any, taint: set[int]) -> None:
        """Mark the tensors that dropout's output flows into."""
        for tensor in _flat([out]):
            if isinstance(tensor, torch.Tensor):
                _remember(self.dropout_taint, tensor, taint)

    def _on_norm(self, name: str, args: tuple, kwargs: dict, first: torch.Tensor, taint: set[int]) -> None:
        if name == "batch_norm":
            training = kwargs.get("training", args[5] if len(args) > 5 else False)
            if not training or first.dim() < 2:
                return  # eval-mode batch norm uses running statistics, not the batch's
        record = {"where": self.where(), "kind": NORM_OPS[name], "order": self.order,
                  "fed_by_dropouts": sorted(taint)}
        if name == "batch_norm":
            record.update(batch_size=int(first.shape[0]), channels=int(first.shape[1]),
                          values_per_channel=int(first.numel() // max(first.shape[1], 1)))
        self.norms.append(record)

    def _on_activation(self, name: str, first: torch.Tensor) -> None:
        record = self.layers[self.layer_of[id(first)]]
        if record["activation"] is None:
            record["activation"] = name
            limit = SATURATION_LIMITS.get(name)
            if limit is not None:
                values = first.detach().float()
                record["saturated_fraction"] = float((values.abs() > limit).float().mean())

    def _track_sigmoid(self, name: str, args: tuple, tensors: list, first: Any, out: Any) -> None:
        carried = set().union(*(self.sigmoid_of.get(id(t), set()) for t in tensors)) if tensors else set()
        if name in SIGMOID_OPS and first is not None:
            via = "nn.Sigmoid" if self.where().endswith("(Sigmoid)") else "torch.sigmoid"
            self.sigmoids.append({"where": self.where(), "via": via, "role": None})
            self._tag(out, {len(self.sigmoids) - 1})
            return
        if not carried:
            return
        big = [t for t in tensors if t.numel() > 1]
        if name in WEIGHTED_OPS and first is not None and id(first) in self.sigmoid_of:
            self._set_role(self.sigmoid_of[id(first)], "hidden")
        elif name in MATMUL_OPS:  # weights @ values (attention) is a gate; @ a Parameter is a layer
            self._set_role(carried, "hidden" if any(isinstance(t, nn.Parameter) for t in tensors) else "gate")
        elif name in MULTIPLY_OPS and len(big) >= 2:
            self._set_role(carried, "gate")
        elif name in PASS_THROUGH_OPS:
            self._tag(out, carried)

    def _set_role(self, indices: set[int], role: str) -> None:
        for index in indices:
            if self.sigmoids[index]["role"] != "hidden":
                self.sigmoids[index]["role"] = role

    def _tag(self, out: Any, indices: set[int]) -> None:
        for tensor in _flat([out]):
            if isinstance(tensor, torch.Tensor):
                _remember(self.sigmoid_of, tensor, set(indices))

    def _track_origin(self, name: str, tensors: list, out: Any) -> None:
        if name not in PASS_THROUGH_OPS and name not in ACTIVATION_OPS:
            return
        sources = [self.origin[id(t)] for t in tensors if id(t) in self.origin and t.numel() > 1]
        if len(set(sources)) != 1:
            return
        activation = name if name in FINAL_ACTIVATIONS else next(
            (self.activation_on[id(t)] for t in tensors if id(t) in self.activation_on), None)
        for tensor in _flat([out]):
            if isinstance(tensor, torch.Tensor):
                _remember(self.origin, tensor, sources[0])
                if activation is not None:
                    _remember(self.activation_on, tensor, activation)

    def sigmoid_records(self) -> list[dict[str, Any]]:
        outputs = {id(t) for t in _flat([self.output]) if isinstance(t, torch.Tensor)}
        reach_output = set().union(*(self.sigmoid_of.get(i, set()) for i in outputs)) if outputs else set()
        records = []
        for index, record in enumerate(self.sigmoids):
            role = record["role"] or ("output" if index in reach_output else "other")
            records.append({"where": record["where"], "via": record["via"], "role": role})
        return records

    def output_layer_index(self) -> tuple[int | None, torch.Tensor | None]:
        output = _first_tensor(self.output)
        if output is None or id(output) not in self.origin:
            return None, output
        return self.origin[id(output)], output


class _Recorder(TorchFunctionMode):
    def __init__(self, trace: _Trace) -> None:
        super().__init__()
        self.trace = trace
        self.fault: Exception | None = None

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.fault is None:
            try:
                self.trace.on_op(_op_name(func), args, kwargs, out)
            except Exception as error:  # noqa: BLE001 — recorded, raised after the pass
                self.fault = error
        return out


def trace_forward(model: nn.Module, inputs: Any) -> _Trace:
    """One no-grad forward pass of a deep copy of `model`, recorded; the Python, NumPy
    and torch random states are restored afterwards (a forward may draw from any)."""
    try:
        clone = copy.deepcopy(model)
    except Exception as error:  # noqa: BLE001 — an uncopyable model is a usage limit
        raise _ModelFailed(f"the model cannot be deep-copied ({type(error).__name__}: {error})") from None
    if isinstance(clone, torch.jit.ScriptModule):
        raise _ModelFailed("a TorchScript model cannot be watched with forward hooks; pass the nn.Module")
    if not clone.training:
        clone.train()  # preflight is about training: look at the training-mode forward
    trace = _Trace(clone)
    handles = []
    for name, module in clone.named_modules():
        label = name or "(model)"
        where = f"{label} ({type(module).__name__})"
        handles.append(module.register_forward_pre_hook(lambda mod, args, where=where: trace.stack.append(where)))
        handles.append(module.register_forward_hook(lambda mod, args, out: trace.leave(), always_call=True))
        if isinstance(module, WEIGHT_LAYERS):
            handles.append(module.register_forward_hook(
                lambda mod, args, out, label=label: trace.on_layer_output(label, mod, args, out)))
    rng_python, rng_numpy = random.getstate(), numpy.random.get_state()
    rng_cpu = torch.get_rng_state()
    rng_cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    recorder = _Recorder(trace)
    try:
        with torch.no_grad(), recorder:
            try:
                trace.output = _call(clone, _clone_inputs(inputs))
            except Exception as error:  # noqa: BLE001 — the user's forward, reported as such
                raise _ModelFailed(f"the model's forward pass failed on this batch: {type(error).__name__}: {error}") from None
    finally:
        random.setstate(rng_python)
        numpy.random.set_state(rng_numpy)
        torch.set_rng_state(rng_cpu)
        if rng_cuda is not None:
            torch.cuda.set_rng_state_all(rng_cuda)
        for handle in handles:
            handle.remove()
    if recorder.fault is not None:
        raise recorder.fault
    return trace


def describe_output(trace: _Trace, targets: Any) -> dict[str, Any] | None:
    """The final weight layer's bias next to what the targets say it should start at."""
    index, output = trace.output_layer_index()
    if index is None or output is None:
        return None
    record = trace.layers[index]
    module = trace.model.get_submodule("" if record["name"] == "(model)" else record["name"])
    bias = getattr(module, "bias", None)
    if not isinstance(bias, torch.Tensor) or bias.dim() != 1 or bias.numel() > MAX_CLASSES:
        return None
    unit_dim = 1 if "Conv" in record["kind"] else -1
    final_activation = trace.activation_on.get(id(output))
    described = {"name": record["name"], "kind": record["kind"], "bias": bias.detach().float().tolist(),
                 "output_shape": list(output.shape), "final_activation": final_activation}
    described["targets"] = describe_targets(
        output.detach().float(), targets, unit_dim, bias.numel(), sigmoid_output=final_activation == "sigmoid")
    return described


def describe_targets(
    output: torch.Tensor, targets: Any, unit_dim: int, units: int, *, sigmoid_output: bool = False
) -> dict[str, Any] | None:
    """Class counts, positives per output unit, or target/output means — whichever the
    targets' dtype and shape say this is; None when it cannot be told apart."""
    if not isinstance(targets, torch.Tensor) or output.dim() == 0 or targets.numel() == 0:
        return None
    targets, output = targets.detach().cpu(), output.cpu()
    if units == 1:
        if targets.numel() != output.numel() or not (targets.is_floating_point() or targets.dtype == torch.bool):
            return None
        per_unit_targets, per_unit_outputs = targets.float().reshape(-1, 1), output.reshape(-1, 1)
    else:
        unit_dim = unit_dim % output.dim()
        if output.shape[unit_dim] != units:
            return None
        if not targets.is_floating_point() and targets.dtype != torch.bool:
            expected = list(output.shape[:unit_dim]) + list(output.shape[unit_dim + 1:])
            if list(targets.shape) != expected:
                return None
            valid = targets[(targets >= 0) & (targets < units)].long()
            return {"kind": "class_index", "counts": torch.bincount(valid, minlength=units).tolist()}
        if targets.shape != output.shape:
            return None
        per_unit_targets = targets.float().movedim(unit_dim, -1).reshape(-1, units)
        per_unit_outputs = output.movedim(unit_dim, -1).reshape(-1, units)
    if bool(((per_unit_targets == 0) | (per_unit_targets == 1)).all()):
        one_hot = units > 1 and bool((per_unit_targets.sum(1) == 1).all())
        if one_hot and not sigmoid_output:  # one-hot rows for a softmax: class counts
            return {"kind": "class_index", "counts": per_unit_targets.sum(0).round().long().tolist()}
        return {"kind": "binary", "n": int(per_unit_targets.shape[0]),
                "positives": per_unit_targets.sum(0).round().long().tolist()}
    return {"kind": "regression", "n": int(per_unit_targets.shape[0]),
            "target_mean": per_unit_targets.mean(0).tolist(),
            "target_std": per_unit_targets.std(0, unbiased=False).tolist(),
            "output_mean": per_unit_outputs.mean(0).tolist()}


def _remember(mapping: dict[int, Any], tensor: torch.Tensor, value: Any) -> None:
    """mapping[id(tensor)] = value, removed when the tensor is freed (its id may be reused)."""
    mapping[id(tensor)] = value
    weakref.finalize(tensor, mapping.pop, id(tensor), None)


def _rms(values: torch.Tensor) -> float:
    value = float(values.pow(2).mean().sqrt()) if values.numel() else 0.0
    return value if math.isfinite(value) else float("inf")


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or ""
    return name.strip("_").rstrip("_")


def _flat(values: list | tuple) -> list:
    flat: list = []
    for value in values:
        if isinstance(value, (list, tuple)):
            flat.extend(_flat(value))
        elif isinstance(value, dict):
            flat.extend(_flat(list(value.values())))
        else:
            flat.append(value)
    return flat


def _first_tensor(value: Any) -> torch.Tensor | None:
    """The predictions: the output, `logits` of a dict or output object, or the first tensor."""
    if isinstance(value, dict) and "logits" in value:
        value = value["logits"]
    elif isinstance(getattr(value, "logits", None), torch.Tensor):
        value = value.logits
    for item in _flat([value]):
        if isinstance(item, torch.Tensor):
            return item
    return None


def _clone_inputs(inputs: Any) -> Any:
    """In-place ops in a forward must not reach the user's batch."""
    if isinstance(inputs, torch.Tensor):
        return inputs.clone()
    if isinstance(inputs, tuple) and hasattr(inputs, "_fields"):
        return type(inputs)(*(_clone_inputs(item) for item in inputs))
    if isinstance(inputs, (list, tuple)):
        return type(inputs)(_clone_inputs(item) for item in inputs)
    if isinstance(inputs, dict):
        return {key: _clone_inputs(item) for key, item in inputs.items()}
    return inputs


def _call(model: nn.Module, inputs: Any) -> Any:
    if isinstance(inputs, dict):
        return model(**inputs)
    if isinstance(inputs, (list, tuple)) and not hasattr(inputs, "_fields"):
        return model(*inputs)
    return model(inputs)  # a tensor, or a namedtuple passed whole (as preflight does)
