"""A gallery of small broken and healthy training setups, each preflighted by `nndoctor demo`.

Every case builds its model, one batch of synthetic data (generated here, nothing is
downloaded), the loss and the optimizer exactly as a user would write them, with the
bug in plain sight. `expect` lists the rule ids the report must show; a healthy case
expects none and must show no warnings or errors.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

Setup = tuple[nn.Module, tuple[Any, Any], Any, torch.optim.Optimizer]


@dataclass(frozen=True)
class Case:
    name: str  # for `nndoctor demo --case NAME`
    title: str  # one line: what is broken (or that nothing is)
    bug: str  # the offending line(s) of code, as the user wrote them
    expect: tuple[str, ...]  # rule ids the report must contain; () = healthy
    build: Callable[[], Setup]

    @property
    def healthy(self) -> bool:
        return not self.expect


def _classification(n: int, features: int, classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels from a fixed random linear teacher: learnable, balanced enough, reproducible."""
    generator = torch.Generator().manual_seed(1234)
    inputs = torch.randn(n, features, generator=generator)
    teacher = torch.randn(features, classes, generator=generator)
    return inputs, (inputs @ teacher).argmax(1)


def _mlp(d_in: int, d_out: int, width: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                         nn.Linear(width, d_out))


def softmax_into_cross_entropy() -> Setup:
    inputs, targets = _classification(64, 20, 4)
    model = nn.Sequential(_mlp(20, 4), nn.Softmax(dim=1))
    return model, (inputs, targets), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


class EncoderHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x))


def optimizer_misses_head() -> Setup:
    inputs, targets = _classification(64, 20, 4)
    model = EncoderHead()
    optimizer = torch.optim.Adam(model.encoder.parameters(), lr=1e-3)
    return model, (inputs, targets), nn.CrossEntropyLoss(), optimizer


class MaskedFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("feature_mask", torch.zeros(20))  # meant: torch.ones(20)
        self.net = _mlp(20, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * self.feature_mask)


def input_masked_to_zero() -> Setup:
    inputs, targets = _classification(64, 20, 4)
    model = MaskedFeatures()
    return model, (inputs, targets), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


def tiny_init_deep_tanh() -> Setup:
    inputs, targets = _classification(64, 20, 4)
    layers: list[nn.Module] = []
    width_in = 20
    for _ in range(11):
        linear = nn.Linear(width_in, 64)
        nn.init.normal_(linear.weight, std=0.01)
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.Tanh()]
        width_in = 64
    model = nn.Sequential(*layers, nn.Linear(64, 4))
    return model, (inputs, targets), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


class SequenceClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 32)  # sequence-first: expects (time, batch, features)
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, time, features)
        batch, time, features = x.shape
        x = x.view(time, batch, features)  # BUG: reshuffles samples; meant x.transpose(0, 1)
        _, (hidden, _) = self.lstm(x)
        return self.head(hidden[-1])


def view_instead_of_transpose() -> Setup:
    generator = torch.Generator().manual_seed(7)
    inputs = torch.randn(32, 10, 8, generator=generator)
    targets = (inputs[:, :, 0].mean(1) > 0).long() + (inputs[:, :, 1].mean(1) > 0.3).long()
    model = SequenceClassifier()
    return model, (inputs, targets), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


def old_school_mlp() -> Setup:
    inputs, targets = _classification(8, 20, 4)
    model = nn.Sequential(
        nn.Linear(20, 64), nn.Sigmoid(), nn.Dropout(0.5),
        nn.Linear(64, 64), nn.BatchNorm1d(64), nn.Sigmoid(),
        nn.Linear(64, 4),
    )
    return model, (inputs, targets), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


def rare_positives() -> Setup:
    generator = torch.Generator().manual_seed(99)
    inputs = torch.randn(512, 16, generator=generator)
    targets = torch.zeros(512, 1)
    targets[inputs[:, 0] > 2.1] = 1.0  # 14 positives in 512 (2.7%), like fraud or a rare disease
    model = _mlp(16, 1)
    return model, (inputs, targets), nn.BCEWithLogitsLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


def healthy_cnn() -> Setup:
    generator = torch.Generator().manual_seed(3)
    images = torch.randn(32, 1, 8, 8, generator=generator)
    labels = (images[:, :, :4].mean((1, 2, 3)) > images[:, :, 4:].mean((1, 2, 3))).long()
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 2),
    )
    return model, (images, labels), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


def healthy_regressor() -> Setup:
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(64, 10, generator=generator)
    targets = torch.sin(inputs[:, :1]) + 0.5 * inputs[:, 1:2] * inputs[:, 2:3]
    targets = (targets - targets.mean()) / targets.std()
    model = _mlp(10, 1)
    return model, (inputs, targets), nn.MSELoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


CASES: tuple[Case, ...] = (
    Case("softmax-into-cross-entropy",
         "The model ends in nn.Softmax and feeds nn.CrossEntropyLoss, which applies softmax again",
         "model = nn.Sequential(mlp, nn.Softmax(dim=1));  loss_fn = nn.CrossEntropyLoss()",
         ("probabilities-to-logit-loss",), softmax_into_cross_entropy),
    Case("optimizer-misses-head",
         "The optimizer was given only the encoder's parameters, so the head never learns",
         "optimizer = torch.optim.Adam(model.encoder.parameters(), lr=1e-3)",
         ("params-not-updated",), optimizer_misses_head),
    Case("input-masked-to-zero",
         "A feature mask built with torch.zeros instead of torch.ones: the model never sees its input",
         'self.register_buffer("feature_mask", torch.zeros(20));  return self.net(x * self.feature_mask)',
         ("ignores-input",), input_masked_to_zero),
    Case("tiny-init-deep-tanh",
         "A 12-layer tanh network initialized with normal(std=0.01): the signal vanishes with depth",
         "nn.init.normal_(layer.weight, std=0.01); nn.init.zeros_(layer.bias)  # for all 11 hidden layers",
         ("init-scale-mismatch",), tiny_init_deep_tanh),
    Case("view-instead-of-transpose",
         "x.view() used to swap batch and time before a sequence-first LSTM: samples get mixed",
         "x = x.view(time, batch, features)  # meant: x.transpose(0, 1)",
         ("batch-mixing",), view_instead_of_transpose),
    Case("old-school-mlp",
         "Sigmoid hidden layers, dropout feeding BatchNorm, and a batch of 8",
         "nn.Linear(20, 64), nn.Sigmoid(), nn.Dropout(0.5), nn.Linear(64, 64), nn.BatchNorm1d(64), nn.Sigmoid(), ...",
         ("sigmoid-hidden-activation", "dropout-with-normalization", "batchnorm-small-batch"), old_school_mlp),
    Case("rare-positives",
         "A binary classifier on 2.7% positives with the output bias left at its default near 0",
         "model = mlp(16, 1);  loss_fn = nn.BCEWithLogitsLoss()  # targets: 14 positives in 512",
         ("output-bias-imbalance",), rare_positives),
    Case("healthy-cnn",
         "A small CNN with BatchNorm, a batch of 32 and Adam(lr=1e-3): nothing to fix",
         "Conv-BatchNorm-ReLU ×2 → max-pool → Linear;  nn.CrossEntropyLoss();  Adam(lr=1e-3)",
         (), healthy_cnn),
    Case("healthy-regressor",
         "An MLP regressor on standardized targets with MSE and Adam: nothing to fix",
         "targets = (targets - targets.mean()) / targets.std();  nn.MSELoss();  Adam(lr=1e-3)",
         (), healthy_regressor),
)


def case_names() -> list[str]:
    return [case.name for case in CASES]


def get_case(name: str) -> Case:
    for case in CASES:
        if case.name == name:
            return case
    raise KeyError(name)


def run_case(case: Case, *, seed: int = 0) -> Any:
    """Build the case with a fixed seed and preflight it; returns the Report."""
    import nndoctor

    torch.manual_seed(seed)
    model, batch, loss_fn, optimizer = case.build()
    return nndoctor.preflight(model, batch, loss_fn, optimizer, seed=seed)


def missing_expectations(case: Case, report: Any) -> list[str]:
    """What the case promised but the report lacks: each expected rule id as a warning or
    error, or for a healthy case every warning/error it should not have."""
    problems = {f.rule for f in report.findings if f.severity != "info"}
    if case.healthy:
        return [f"unexpected {f.severity} {f.rule}" for f in report.findings if f.severity != "info"]
    return [f"expected {rule}" for rule in case.expect if rule not in problems]
