"""Activation statistics read from the autograd graph of a sampled training loss.

Why the graph and not module hooks: `F.relu(self.fc1(x))`, `torch.tanh(h)` and
`nn.ReLU(inplace=True)` are all common, and only the first one of them (as a module) is
visible to module hooks. Every one of them, module or function, leaves a node in the
autograd graph (`ReluBackward0`, `TanhBackward0`, `SigmoidBackward0`) that keeps the
activation's *output* for the backward pass (`_saved_result`). Walking the graph of the
loss before `backward()` frees it therefore sees every ReLU/tanh/sigmoid of the step at
no cost to the forward pass. The walk is done on sampled steps only.

From the saved outputs (pre-activations are recovered where needed, the functions are
monotonic):

* ReLU — which units were ever active (output > 0) in the batch. A unit is a feature of
  a fully connected layer (last dim for 2-D/3-D outputs) or a channel of a convolution
  (dim 1 for 4-D/5-D outputs). The monitor ORs this over a window of sampled batches:
  a unit never active in any of them is dead (seed 001: share of negative ReLU inputs).
* tanh / sigmoid — the share of inputs in the flat region, where the slope has fallen
  below 2 % of its peak (|x| > 2.65 for tanh, |x| > 5.3 for sigmoid), and the mean
  |pre-activation| (seed 001 names it as the saturation indicator for tanh).

Each activation is named by the nearest parameterised layer feeding it ("relu after
fc1"), so the same activation keeps its name from step to step; repeated uses (an RNN
cell unrolled over time) merge into one record. Activations between the last
parameterised layer and the loss (an output sigmoid for BCELoss, say) are marked
`hidden=False`: a converged classifier's output sigmoid is *supposed* to saturate.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from nndoctor.core.activation_regions import SIGMOID_FLAT_SLOPE, TANH_FLAT_ABS_OUTPUT

_KINDS = {"ReluBackward0": "relu", "TanhBackward0": "tanh", "SigmoidBackward0": "sigmoid"}
_NAME_SEARCH_NODES = 12  # how far below an activation to look for the layer feeding it


@dataclass
class ActivationSample:
    """One activation's measurements in one sampled batch (tensors stay on the device)."""

    key: str
    kind: str
    after: str | None
    hidden: bool
    order: int
    ever_active: torch.Tensor | None = None  # relu: bool per unit
    rows: int = 0  # relu: samples the outputs covered
    saturated: torch.Tensor | None = None  # tanh/sigmoid: 0-d share in the flat region
    mean_abs_input: torch.Tensor | None = None
    uses: int = 1


def _param_module_name(node: Any, param_names: dict[int, str]) -> str | None:
    """The module owning a parameter used directly by `node` (Linear: addmm's weight
    sits behind a TBackward0; Conv: the weight is a direct input)."""
    for child, _ in node.next_functions:
        if child is None:
            continue
        variable = getattr(child, "variable", None)
        if variable is None:
            for grandchild, _ in child.next_functions:
                variable = getattr(grandchild, "variable", None) if grandchild is not None else None
                if variable is not None:
                    break
        if variable is not None and id(variable) in param_names:
            name = param_names[id(variable)]
            return name.rsplit(".", 1)[0] if "." in name else name
    return None


def _feeding_layer(node: Any, param_names: dict[int, str]) -> str | None:
    """Breadth-first below an activation node: the first parameterised layer found."""
    frontier = [child for child, _ in node.next_functions if child is not None]
    seen = 0
    while frontier and seen < _NAME_SEARCH_NODES:
        current = frontier.pop(0)
        seen += 1
        name = _param_module_name(current, param_names)
        if name is not None:
            return name
        frontier.extend(child for child, _ in current.next_functions if child is not None)
    return None


def _ever_active(output: torch.Tensor) -> torch.Tensor | None:
    if output.dim() == 2:
        dims: tuple[int, ...] = (0,)
    elif output.dim() == 3:
        dims = (0, 1)  # (batch, time, features): a unit is a feature
    elif output.dim() >= 4:
        dims = (0, *range(2, output.dim()))  # (batch, channels, ...): a unit is a channel
    elif output.dim() == 1:
        return output.detach() > 0  # one unbatched sample (per-sample SGD): a unit is an element
    else:
        return None
    return output.detach().amax(dim=dims) > 0


def _rows(output: torch.Tensor) -> int:
    """How many samples one activation output covers (1 for an unbatched sample)."""
    return int(output.shape[0]) if output.dim() >= 2 else 1


def _saturation(kind: str, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    y = output.detach().float()
    if kind == "tanh":
        flat = y.abs() >= TANH_FLAT_ABS_OUTPUT
        pre_activation = torch.atanh(y.clamp(-1 + 1e-6, 1 - 1e-6))
    else:
        flat = y * (1 - y) <= SIGMOID_FLAT_SLOPE
        pre_activation = torch.logit(y, eps=1e-6)
    return flat.float().mean(), pre_activation.abs().mean()


def _head_region(root: Any, uses_param: dict[int, bool], param_names: dict[int, str]) -> set[int]:
    """Nodes reachable from the loss without passing through a parameterised layer."""
    head: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in head:
            continue
        head.add(id(node))
        if uses_param.setdefault(id(node), _param_module_name(node, param_names) is not None):
            continue
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return head


def sample_activations(loss: torch.Tensor, param_names: dict[int, str]) -> list[ActivationSample]:
    """Walk the graph of `loss` (before backward) and measure every ReLU/tanh/sigmoid."""
    root = loss.grad_fn
    if root is None:
        return []
    uses_param: dict[int, bool] = {}
    head = _head_region(root, uses_param, param_names)
    found: list[tuple[int, Any, str]] = []
    visited: set[int] = set()
    keep_alive = []  # ids are only unique while the node objects are alive
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in visited:
            continue
        visited.add(id(node))
        keep_alive.append(node)
        kind = _KINDS.get(type(node).__name__)
        if kind is not None:
            found.append((node._sequence_nr(), node, kind))
        stack.extend(child for child, _ in node.next_functions if child is not None)
    samples: dict[str, ActivationSample] = {}
    for order, node, kind in sorted(found, key=lambda item: item[0]):
        after = _feeding_layer(node, param_names)
        key = f"{kind} after {after}" if after else f"{kind} on the model input"
        output = node._saved_result
        sample = samples.get(key)
        if sample is None:
            sample = samples[key] = ActivationSample(
                key=key, kind=kind, after=after, hidden=id(node) not in head, order=order,
            )
        else:
            sample.uses += 1
            sample.hidden = sample.hidden and id(node) not in head
        if kind == "relu":
            active = _ever_active(output)
            if active is None:
                continue
            if sample.ever_active is None:
                sample.ever_active, sample.rows = active, _rows(output)
            elif sample.ever_active.shape == active.shape:
                sample.ever_active = sample.ever_active | active
                sample.rows += _rows(output)
        else:
            saturated, mean_abs = _saturation(kind, output)
            if sample.saturated is None:
                sample.saturated, sample.mean_abs_input = saturated, mean_abs
            else:  # running mean over the uses of this activation in the step
                weight = 1.0 / sample.uses
                sample.saturated = sample.saturated + (saturated - sample.saturated) * weight
                sample.mean_abs_input = sample.mean_abs_input + (mean_abs - sample.mean_abs_input) * weight
    return list(samples.values())


class InactiveStreaks:
    """Per ReLU unit: for how many sampled rows (and sampled batches) in a row it has been
    inactive, and since which step. Windows of 64 rows take a per-sample run 640 steps
    each; a streak answers "dead since when" after any number of samples, without
    window boundaries. Kept per unit for layers of at most `MAX_UNITS` units."""

    MAX_UNITS = 256

    def __init__(self) -> None:
        self.rows: torch.Tensor | None = None
        self.samples: torch.Tensor | None = None
        self.since: torch.Tensor | None = None
        self.rows_seen = 0
        self.samples_seen = 0

    def add(self, active: torch.Tensor, rows: int, step: int) -> None:
        if active.numel() > self.MAX_UNITS:
            return
        if self.rows is None or self.rows.shape != active.shape:
            self.rows = torch.zeros(active.shape, dtype=torch.long, device=active.device)
            self.samples = torch.zeros_like(self.rows)
            self.since = torch.full_like(self.rows, -1)
            self.rows_seen = self.samples_seen = 0
        started = (~active) & (self.since < 0)
        self.since = torch.where(active, -1, torch.where(started, step, self.since))
        self.rows = torch.where(active, 0, self.rows + rows)
        self.samples = torch.where(active, 0, self.samples + 1)
        self.rows_seen += rows
        self.samples_seen += 1

    def to_dict(self) -> dict | None:
        if self.rows is None or not self.samples_seen:
            return None
        return {"rows_seen": self.rows_seen, "samples_seen": self.samples_seen,
                "rows": self.rows.tolist(), "samples": self.samples.tolist(), "since": self.since.tolist()}
