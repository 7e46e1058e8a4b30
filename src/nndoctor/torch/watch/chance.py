"""The chance level of the training loss: what the best constant prediction scores, from
the labels of the first training batches (the `loss-at-chance` evidence).

A model whose loss sits there has learned nothing about its inputs: labels shuffled apart
from the inputs, targets misaligned, inputs that carry no signal (003 §4.5.3 #8: a
10-class problem starts at ln 10 ≈ 2.30 and must leave it).

* cross-entropy / NLL: the entropy of the label histogram (ln C for balanced classes);
* BCE: the mean binary entropy of each output's positive rate;
* MSE: the variance of the targets (per output, averaged).
"""
from __future__ import annotations

import math
from typing import Any

import torch

OBSERVED_CALLS = 20
CLASS_KINDS = {"cross_entropy", "nll"}
BINARY_KINDS = {"bce", "bce_with_logits"}
SQUARED_KINDS = {"mse"}


class ChanceLevel:
    def __init__(self) -> None:
        self.function: str | None = None
        self.kind: str | None = None
        self.calls = 0
        self.n_classes: int | None = None
        self._counts: torch.Tensor | None = None
        self._sum: torch.Tensor | None = None
        self._sum_sq: torch.Tensor | None = None
        self._rows = 0
        self._unusable = False

    def observe(self, function: str, kind: str, prediction: torch.Tensor, target: Any, kwargs: dict[str, Any]) -> None:
        if self.function is None:
            self.function, self.kind = function, kind
        if function != self.function or self._unusable:
            return
        self.calls += 1
        if not isinstance(target, torch.Tensor) or kwargs.get("weight") is not None or kwargs.get("label_smoothing"):
            self._unusable = True  # weighted or smoothed losses have another chance level
            return
        target = target.detach()
        if kind in CLASS_KINDS:
            self._observe_classes(prediction, target, kwargs)
        elif kind in BINARY_KINDS and target.is_floating_point() and kwargs.get("pos_weight") is None:
            self._observe_moments(target.reshape(-1, target.shape[-1]) if target.dim() > 1 else target.reshape(-1, 1))
        elif kind in SQUARED_KINDS and target.is_floating_point():
            self._observe_moments(target.reshape(target.shape[0], -1) if target.dim() > 1 else target.reshape(-1, 1))
        else:
            self._unusable = True

    def _observe_classes(self, prediction: torch.Tensor, target: torch.Tensor, kwargs: dict[str, Any]) -> None:
        if target.is_floating_point() or prediction.dim() < 1:
            self._unusable = True  # soft targets
            return
        n_classes = int(prediction.shape[1] if prediction.dim() >= 2 else prediction.shape[0])
        labels = target.reshape(-1).long()
        labels = labels[(labels != kwargs.get("ignore_index", -100)) & (labels >= 0) & (labels < n_classes)]
        counts = torch.bincount(labels.cpu(), minlength=n_classes).double()
        if self._counts is None or self._counts.numel() != counts.numel():
            self._counts, self.n_classes = counts, n_classes
        else:
            self._counts += counts

    def _observe_moments(self, rows: torch.Tensor) -> None:
        rows = rows.double().cpu()
        if self._sum is not None and self._sum.shape != rows.shape[1:]:
            self._unusable = True
            return
        self._sum = rows.sum(0) if self._sum is None else self._sum + rows.sum(0)
        squares = rows.square().sum(0)
        self._sum_sq = squares if self._sum_sq is None else self._sum_sq + squares
        self._rows += rows.shape[0]

    def measurement(self) -> dict[str, Any] | None:
        if self.kind is None or self._unusable or self.calls == 0:
            return None
        value, uniform, basis = None, None, ""
        if self.kind in CLASS_KINDS and self._counts is not None and self._counts.sum() > 0:
            p = self._counts / self._counts.sum()
            value = float(-(p[p > 0] * p[p > 0].log()).sum())
            uniform = math.log(self.n_classes)
            basis = (f"the label entropy {value:.3g} of {self.n_classes} classes over {self.calls} batches "
                     f"(ln {self.n_classes} = {uniform:.3g} if they were balanced)")
        elif self._sum is not None and self._rows > 1:
            mean = self._sum / self._rows
            if self.kind in BINARY_KINDS:
                rate = mean.clamp(1e-12, 1 - 1e-12)
                value = float((-(rate * rate.log() + (1 - rate) * (1 - rate).log())).mean())
                basis = f"the binary entropy {value:.3g} of the targets' positive rate over {self.calls} batches"
            else:
                variance = (self._sum_sq / self._rows - mean.square()).clamp_min(0)
                value = float(variance.mean())
                basis = f"the targets' variance {value:.3g} over {self.calls} batches (predicting their mean)"
        if value is None:
            return None
        return {"loss": self.kind, "value": value, "uniform": uniform, "n_classes": self.n_classes,
                "batches": self.calls, "basis": basis}
