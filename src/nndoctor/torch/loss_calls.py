"""Where did the input of a loss come from? Recognise torch loss calls and describe them.

Both preflight and `nndoctor run` produce the `loss_calls` measurement from here:

* `LOSS_KINDS` maps the torch.nn.functional loss functions to short kinds. The nn loss
  modules (nn.CrossEntropyLoss, …) call these functions through the module attribute, so
  patching the attribute sees module and functional calls alike.
* `input_source(tensor)` reads the autograd graph backwards from the loss input, through
  shape-only ops, to the op that produced its values: softmax, log_softmax, sigmoid, … or
  "raw" (a linear layer, a convolution: logits). Correct code never looks wrong this way.
* `describe_loss_call(...)` turns one call into the plain dict the rules judge.
* `LossCallRecorder` records every loss call made inside a `with` block (used by preflight
  around the user's `loss_fn(outputs, targets)`).
"""
from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

LOSS_KINDS = {
    "cross_entropy": "cross_entropy",
    "nll_loss": "nll",
    "binary_cross_entropy": "bce",
    "binary_cross_entropy_with_logits": "bce_with_logits",
    "mse_loss": "mse",
    "l1_loss": "l1",
    "smooth_l1_loss": "smooth_l1",
    "huber_loss": "huber",
    "kl_div": "kl_div",
    "poisson_nll_loss": "poisson_nll",
    "gaussian_nll_loss": "gaussian_nll",
    "soft_margin_loss": "soft_margin",
    "multilabel_soft_margin_loss": "multilabel_soft_margin",
}
# Losses computed element by element between prediction and target: a shape mismatch
# that broadcasts silently changes what is averaged (000 §1.4).
ELEMENTWISE_KINDS = {"mse", "l1", "smooth_l1", "huber", "bce", "bce_with_logits", "soft_margin", "kl_div"}
# Losses whose input must be log-probabilities (a log-softmax over dim 1).
LOG_PROBABILITY_KINDS = {"nll", "kl_div"}

PRODUCERS = {
    "SoftmaxBackward0": "softmax",
    "LogSoftmaxBackward0": "log_softmax",
    "SigmoidBackward0": "sigmoid",
    "HardsigmoidBackward0": "sigmoid",
    "LogSigmoidBackward0": "logsigmoid",
}
PROBABILITY_SOURCES = {"softmax", "sigmoid"}
# Ops that move or select values without changing what they mean.
SHAPE_ONLY = {
    "ViewBackward0", "UnsafeViewBackward0", "ReshapeAliasBackward0", "AliasBackward0",
    "SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2", "SqueezeBackward3",
    "UnsqueezeBackward0", "PermuteBackward0", "TransposeBackward0", "TransposeBackward1",
    "TBackward0", "SelectBackward0", "SliceBackward0", "IndexBackward0", "IndexSelectBackward0",
    "GatherBackward0", "MaskedSelectBackward0", "CloneBackward0", "ToCopyBackward0",
    "ExpandBackward0", "CatBackward0", "StackBackward0", "SplitBackward0",
    "SplitWithSizesBackward0", "UnbindBackward0", "AsStridedBackward0", "FlattenBackward0",
    "NarrowBackward0", "RepeatBackward0",
}
# Ops that keep a probability a probability (`probs.clamp(eps, 1)`, `probs + eps`).
PROBABILITY_KEEPING = {
    "ClampBackward0", "ClampBackward1", "ClampMinBackward0", "ClampMaxBackward0",
    "AddBackward0", "AddBackward1",
}
MAX_GRAPH_DEPTH = 32


def _inputs(node: Any) -> list[Any]:
    return [child for child, _ in getattr(node, "next_functions", ()) if child is not None]


def _source_of_node(node: Any, depth: int = 0) -> str:
    if node is None or depth > MAX_GRAPH_DEPTH:
        return "unknown"
    name = type(node).__name__
    if name in PRODUCERS:
        return PRODUCERS[name]
    children = _inputs(node)
    if name in SHAPE_ONLY and children:
        return _source_of_node(children[0], depth + 1)
    if name in PROBABILITY_KEEPING and len(children) == 1:
        inner = _source_of_node(children[0], depth + 1)
        return inner if inner in PROBABILITY_SOURCES else "unknown"
    if name == "LogBackward0" and children:
        inner = _source_of_node(children[0], depth + 1)
        return "log_probability" if inner in PROBABILITY_SOURCES else "raw"
    if name == "SubBackward0" and len(children) == 2 and _has_logsumexp(children[1], depth + 1):
        return "log_softmax"  # x - x.logsumexp(dim, keepdim=True): a log-softmax by hand
    return "raw"


def _has_logsumexp(node: Any, depth: int) -> bool:
    while node is not None and depth <= MAX_GRAPH_DEPTH:
        name = type(node).__name__
        if name == "LogsumexpBackward0":
            return True
        if name not in SHAPE_ONLY:
            return False
        children = _inputs(node)
        node, depth = (children[0] if children else None), depth + 1
    return False


def input_source(tensor: torch.Tensor) -> str:
    """What produced the values of `tensor`, read from its autograd graph."""
    if tensor.grad_fn is not None:
        return _source_of_node(tensor.grad_fn)
    return "raw" if tensor.requires_grad else "unknown"


def _call_site() -> str | None:
    """file:line of the user's loss call: the innermost frame outside torch. None when that
    frame is nndoctor's own (preflight calling `loss_fn` directly with an nn loss module)."""
    torch_dir = str(Path(torch.__file__).parent)
    own_dir = str(Path(__file__).resolve().parents[1])
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(own_dir):
            # The watch session's loss wrappers sit between the user's call and here.
            if not filename.endswith("loss_calls.py") and f"{os.sep}watch{os.sep}" not in filename:
                return None
        elif not filename.startswith(torch_dir):
            return f"{Path(filename).name}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _broadcast_shape(kind: str, prediction: torch.Tensor, target: Any) -> list[int] | None:
    if kind not in ELEMENTWISE_KINDS or not isinstance(target, torch.Tensor):
        return None
    try:
        return list(torch.broadcast_shapes(prediction.shape, target.shape))
    except RuntimeError:
        return None


@torch.no_grad()
def _log_probability_error(prediction: torch.Tensor) -> float | None:
    """max |logsumexp over the class dim|: 0 for true log-probabilities."""
    if prediction.dim() < 1 or prediction.numel() == 0 or not prediction.is_floating_point():
        return None
    class_dim = 1 if prediction.dim() > 1 else 0
    return float(torch.logsumexp(prediction.float(), dim=class_dim).abs().max())


def describe_loss_call(
    kind: str, prediction: torch.Tensor, target: Any, *, step: int | None = None, where: str | None = None
) -> dict[str, Any]:
    """The plain record of one loss call (see TORCH contract `loss_calls`)."""
    record: dict[str, Any] = {
        "loss": kind,
        "input_source": input_source(prediction),
        "input_shape": list(prediction.shape),
        "target_shape": list(target.shape) if isinstance(target, torch.Tensor) else None,
        "broadcast_shape": _broadcast_shape(kind, prediction, target),
        "step": step,
        "where": where or _call_site() or "your loss_fn",
        "grad_enabled": torch.is_grad_enabled(),
    }
    if kind in LOG_PROBABILITY_KINDS:
        record["log_probability_error"] = _log_probability_error(prediction)
    return record


def _call_options(function: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments after input and target, by name (positional ones included)."""
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {k: v for k, v in kwargs.items() if k not in ("input", "target")}
    return {k: v for k, v in list(bound.arguments.items())[2:] if v is not None}


@dataclass
class LossCall:
    kind: str
    prediction: torch.Tensor
    target: Any
    output: Any
    record: dict[str, Any]
    # Keyword arguments of the call (reduction, label_smoothing, ignore_index, pos_weight…):
    # preflight's loss expectations depend on them.
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossCallRecorder:
    """Records every torch loss call made inside the `with` block; restores F on exit."""

    step: int | None = None
    calls: list[LossCall] = field(default_factory=list)
    _originals: dict[str, Any] = field(default_factory=dict)
    _inside: bool = False

    def __enter__(self) -> LossCallRecorder:
        for function_name, kind in LOSS_KINDS.items():
            original = getattr(F, function_name)
            self._originals[function_name] = original
            setattr(F, function_name, self._wrap(original, kind))
        return self

    def __exit__(self, *exc: Any) -> None:
        for function_name, original in self._originals.items():
            setattr(F, function_name, original)
        self._originals.clear()

    def _wrap(self, original: Any, kind: str) -> Any:
        def recording_loss(*args: Any, **kwargs: Any) -> Any:
            output = original(*args, **kwargs)
            prediction = args[0] if args else kwargs.get("input")
            target = args[1] if len(args) > 1 else kwargs.get("target")
            if not self._inside and isinstance(prediction, torch.Tensor):
                self._inside = True
                try:
                    record = describe_loss_call(kind, prediction, target, step=self.step)
                    options = _call_options(original, args, kwargs)
                    self.calls.append(LossCall(kind, prediction, target, output, record, options))
                finally:
                    self._inside = False
            return output

        recording_loss.__wrapped__ = original  # type: ignore[attr-defined]
        return recording_loss

    @property
    def records(self) -> list[dict[str, Any]]:
        return [call.record for call in self.calls]
