"""Benchmark: full preflight on a ~1M-parameter MLP, a small CNN and a small transformer.

Prints, for each model, the seconds of `nndoctor.preflight(...)` (all rules) and the ratio
to 100 plain training steps on the same batch. Target: ≤ 10 s each on a 2-core CPU.

    .venv/bin/python benchmarks/preflight.py
"""
from __future__ import annotations

import time

import torch
import torch.nn as nn

import nndoctor


def mlp_setup():
    model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 256), nn.ReLU(), nn.Linear(256, 10))
    x, y = torch.randn(64, 784), torch.randint(0, 10, (64,))
    return "mlp (~1.07M params)", model, (x, y), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def cnn_setup():
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(64, 10),
    )
    x, y = torch.randn(32, 3, 32, 32), torch.randint(0, 10, (32,))
    return "cnn (3 conv, 32x32x3)", model, (x, y), nn.CrossEntropyLoss(), torch.optim.Adam(model.parameters(), lr=1e-3)


class Transformer(nn.Module):
    def __init__(self, vocab: int = 1000, dim: int = 64, classes: int = 5) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Parameter(torch.zeros(1, 64, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 128, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids) + self.position[:, : ids.shape[1]]
        return self.head(self.encoder(h).mean(1))


def transformer_setup():
    model = Transformer()
    x, y = torch.randint(0, 1000, (32, 32)), torch.randint(0, 5, (32,))
    return "transformer (2 layers, d=64)", model, (x, y), nn.CrossEntropyLoss(), torch.optim.AdamW(model.parameters(), lr=3e-4)


def plain_training_seconds(model, batch, loss_fn, optimizer, steps: int = 100) -> float:
    import copy

    model, inputs, targets = copy.deepcopy(model), batch[0], batch[1]
    optimizer = type(optimizer)(model.parameters(), **{k: v for k, v in optimizer.param_groups[0].items() if k in ("lr", "momentum")})
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimizer.step()
    return time.perf_counter() - started


def fastest_plain_training_seconds(model, batch, loss_fn, optimizer) -> float:
    """100 plain steps with torch's default thread count and with one thread (preflight
    uses one thread for small CPU models); the faster is the honest baseline."""
    threads = torch.get_num_threads()
    default = plain_training_seconds(model, batch, loss_fn, optimizer)
    torch.set_num_threads(1)
    try:
        single = plain_training_seconds(model, batch, loss_fn, optimizer)
    finally:
        torch.set_num_threads(threads)
    return min(default, single)


def main() -> None:
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for setup in (mlp_setup, cnn_setup, transformer_setup):
        name, model, batch, loss_fn, optimizer = setup()
        baseline = fastest_plain_training_seconds(model, batch, loss_fn, optimizer)
        started = time.perf_counter()
        report = nndoctor.preflight(model, batch, loss_fn, optimizer)
        seconds = time.perf_counter() - started
        found = ", ".join(sorted({f"{f.rule}({f.severity})" for f in report.findings})) or "no findings"
        print(f"{name:32s} preflight {seconds:6.2f} s   100 plain steps {baseline:6.2f} s   "
              f"ratio {seconds / baseline:5.1f}x   {'OK' if seconds <= 10 else 'OVER 10 s'}   [{found}]")
        slowest = sorted(report.context["seconds"].items(), key=lambda kv: -kv[1])[:3]
        print("    slowest parts: " + ", ".join(f"{k} {v:.2f} s" for k, v in slowest))


if __name__ == "__main__":
    main()
