"""What one recorded forward pass showed, built op by op.

`ForwardTrace` receives two streams from `forward_pass.trace_forward`: each weight
layer's output (its RMS in execution order: the activation scale across depth at init)
and every torch op call. From the ops it records dropout and normalization layers and
which dropouts feed which norms, the activation applied to each weight layer, what each
sigmoid's output is used for (a weight layer = a hidden activation; a multiplication
with another tensor = a gate; nothing = the model's output), and which weight layer the
model's output comes from. Tensors are kept only until the pass ends.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from nndoctor.torch.architecture.model_facts import autocast_state
from nndoctor.torch.architecture.op_kinds import (
    ACTIVATION_OPS, DROPOUT_OPS, FINAL_ACTIVATIONS, MATMUL_OPS, MULTIPLY_OPS, NORM_OPS,
    PASS_THROUGH_OPS, SATURATION_LIMITS, SIGMOID_OPS, WEIGHTED_OPS,
)
from nndoctor.torch.architecture.tensor_walk import first_tensor, flatten, remember, rms


class ForwardTrace:
    """What one forward pass showed; tensors are kept only until the pass ends."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: list[str] = []
        self.layers: list[dict[str, Any]] = []
        self.layer_names: set[str] = set()
        self.measuring = False  # our own tensor ops inside hooks are not the model's
        # Maps keyed by id(tensor) forget an entry when its tensor dies (see `remember`), so
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
        remember(self.layer_of, tensor, len(self.layers))
        remember(self.origin, tensor, len(self.layers))
        self.layers.append(record)

    def _layer_record(self, name: str, module: nn.Module, args: tuple, tensor: torch.Tensor) -> dict[str, Any]:
        values = tensor.detach().float()
        record: dict[str, Any] = {
            "name": name, "kind": type(module).__name__, "rms": rms(values),
            "dtype": str(tensor.dtype).replace("torch.", ""), "activation": None,
            "saturated_fraction": None, "input_rms": None,
            # the input-dependent part: spread across samples (dim 0), not the bias
            "signal_rms": rms(values.std(0, unbiased=False)) if values.dim() and values.shape[0] > 1 else None,
        }
        if args and isinstance(args[0], torch.Tensor) and args[0].is_floating_point():
            record["input_rms"] = rms(args[0].detach().float())
        return record

    def on_op(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        if self.measuring:
            return
        tensors = [a for a in flatten(args) + flatten(list(kwargs.values())) if isinstance(a, torch.Tensor)]
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
        for tensor in flatten([out]):
            if isinstance(tensor, torch.Tensor):
                remember(self.dropout_taint, tensor, taint)

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
        for tensor in flatten([out]):
            if isinstance(tensor, torch.Tensor):
                remember(self.sigmoid_of, tensor, set(indices))

    def _track_origin(self, name: str, tensors: list, out: Any) -> None:
        if name not in PASS_THROUGH_OPS and name not in ACTIVATION_OPS:
            return
        sources = [self.origin[id(t)] for t in tensors if id(t) in self.origin and t.numel() > 1]
        if len(set(sources)) != 1:
            return
        activation = name if name in FINAL_ACTIVATIONS else next(
            (self.activation_on[id(t)] for t in tensors if id(t) in self.activation_on), None)
        for tensor in flatten([out]):
            if isinstance(tensor, torch.Tensor):
                remember(self.origin, tensor, sources[0])
                if activation is not None:
                    remember(self.activation_on, tensor, activation)

    def sigmoid_records(self) -> list[dict[str, Any]]:
        outputs = {id(t) for t in flatten([self.output]) if isinstance(t, torch.Tensor)}
        reach_output = set().union(*(self.sigmoid_of.get(i, set()) for i in outputs)) if outputs else set()
        records = []
        for index, record in enumerate(self.sigmoids):
            role = record["role"] or ("output" if index in reach_output else "other")
            records.append({"where": record["where"], "via": record["via"], "role": role})
        return records

    def output_layer_index(self) -> tuple[int | None, torch.Tensor | None]:
        output = first_tensor(self.output)
        if output is None or id(output) not in self.origin:
            return None, output
        return self.origin[id(output)], output
