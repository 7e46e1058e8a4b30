"""Recognise optax loss calls inside the user's `loss_fn` and describe them as the
`loss_calls` records the code rules judge (the same records torch's adapter makes).

`OptaxLossRecorder` replaces the optax loss functions (`optax.X` and `optax.losses.X`)
for the duration of a `with` block, run eagerly, and keeps each call's kind, prediction,
target and options. Calls made through a name imported before the block
(`from optax import l2_loss`) are not seen; then the loss is unknown, as a hand-written
`jnp.mean((p - y) ** 2)` is.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import flax
import jax
import numpy as np
import optax

# optax function → (kind, options the kind implies). Kinds are those of the torch adapter.
OPTAX_LOSSES: dict[str, tuple[str, dict[str, Any]]] = {
    "softmax_cross_entropy_with_integer_labels": ("cross_entropy", {}),
    "softmax_cross_entropy": ("cross_entropy", {}),
    "safe_softmax_cross_entropy": ("cross_entropy", {}),
    "sigmoid_binary_cross_entropy": ("bce_with_logits", {}),
    "squared_error": ("mse", {}),
    "l2_loss": ("mse", {"scale": 0.5}),  # optax.l2_loss is half the squared error
    "huber_loss": ("huber", {}),
}
ELEMENTWISE_KINDS = {"mse", "huber", "bce_with_logits"}
_OWN_DIRS = tuple(str(Path(module.__file__).resolve().parent) for module in (optax, jax, flax)) + (
    str(Path(__file__).resolve().parents[1]),)


@dataclass
class OptaxLossCall:
    kind: str
    prediction: np.ndarray
    target: np.ndarray | None
    output: np.ndarray
    options: dict[str, Any]
    where: str


def _call_site() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_OWN_DIRS):
            return f"{Path(filename).name}:{frame.f_lineno}"
        frame = frame.f_back
    return "your loss_fn"


@dataclass
class OptaxLossRecorder:
    calls: list[OptaxLossCall] = field(default_factory=list)
    _originals: dict[tuple[Any, str], Any] = field(default_factory=dict)

    def __enter__(self) -> OptaxLossRecorder:
        for namespace in (optax, optax.losses):
            for name, (kind, implied) in OPTAX_LOSSES.items():
                original = getattr(namespace, name, None)
                if original is None:
                    continue
                self._originals[(namespace, name)] = original
                setattr(namespace, name, self._wrap(original, kind, implied))
        return self

    def __exit__(self, *exc: Any) -> None:
        for (namespace, name), original in self._originals.items():
            setattr(namespace, name, original)
        self._originals.clear()

    def _wrap(self, original: Any, kind: str, implied: dict[str, Any]) -> Any:
        def recording_loss(*args: Any, **kwargs: Any) -> Any:
            output = original(*args, **kwargs)
            prediction = args[0] if args else kwargs.get("logits", kwargs.get("predictions"))
            target = args[1] if len(args) > 1 else kwargs.get("labels", kwargs.get("targets"))
            options = dict(implied)
            if kind == "huber":
                options["delta"] = float(kwargs.get("delta", 1.0))
            try:
                self.calls.append(OptaxLossCall(
                    kind, np.asarray(prediction), None if target is None else np.asarray(target),
                    np.asarray(output), options, _call_site()))
            except Exception:  # noqa: BLE001 — traced values (a jitted loss_fn): not describable
                pass
            return output

        recording_loss.__wrapped__ = original  # type: ignore[attr-defined]
        return recording_loss


def torch_layout(call: OptaxLossCall) -> tuple[np.ndarray, np.ndarray | None]:
    """(prediction, target) with the class axis where the shared expectations read it
    (axis 1); optax puts classes last."""
    prediction, target = call.prediction, call.target
    if call.kind == "cross_entropy" and prediction.ndim >= 3:
        prediction = np.moveaxis(prediction, -1, 1)
        if target is not None and target.shape[:-1] == call.prediction.shape[:-1] and target.ndim == call.prediction.ndim:
            target = np.moveaxis(target, -1, 1)
    return prediction, target


def describe(call: OptaxLossCall, input_source: str, step: int | None = 0) -> dict[str, Any]:
    """The `loss_calls` record of one call (nndoctor.core.measurements.LossCall)."""
    broadcast = None
    if call.kind in ELEMENTWISE_KINDS and call.target is not None:
        try:
            broadcast = list(np.broadcast_shapes(call.prediction.shape, call.target.shape))
        except ValueError:
            broadcast = None
    return {
        "loss": call.kind,
        "input_source": input_source,
        "input_shape": list(call.prediction.shape),
        "target_shape": list(call.target.shape) if call.target is not None else None,
        "broadcast_shape": broadcast,
        "step": step,
        "where": call.where,
    }
