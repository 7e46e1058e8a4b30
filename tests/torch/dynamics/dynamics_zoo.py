"""Tiny real models, data and a hand-written training loop driving DynamicsMonitor the
way the runner does (on_loss before backward, before/after the optimizer step)."""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from nndoctor.core.engine import run_rules
from nndoctor.core.registry import load_rules
from nndoctor.torch.dynamics import DynamicsMonitor


def classification_data(n: int = 512, features: int = 20, classes: int = 4, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator)
    weights = torch.randn(features, classes, generator=generator)
    y = (x @ weights + 0.5 * torch.randn(n, classes, generator=generator)).argmax(1)
    return x, y


def mlp(features: int = 20, hidden: int = 64, classes: int = 4) -> nn.Module:
    return nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                         nn.Linear(hidden, classes))


class SmallCNN(nn.Module):
    def __init__(self, classes: int = 4) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.head = nn.Linear(16 * 4 * 4, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.head(x.flatten(1))


def image_data(n: int = 256, classes: int = 4, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=generator)
    x = 0.5 * torch.randn(n, 1, 16, 16, generator=generator)
    for c in range(classes):  # each class lights up one quadrant
        rows, cols = divmod(c, 2)
        x[y == c, :, rows * 8:(rows + 1) * 8, cols * 8:(cols + 1) * 8] += 1.0
    return x, y


class TinyLSTM(nn.Module):
    def __init__(self, vocab: int = 12, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(self.embed(tokens))
        return self.head(output[:, -1])


def sequence_data(n: int = 256, length: int = 10, vocab: int = 12, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, vocab, (n, length), generator=generator)
    y = (tokens == 3).any(1).long()
    return tokens, y


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 12, dim: int = 32, length: int = 10) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Parameter(torch.zeros(1, length, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(dim, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(tokens) + self.position)
        return self.head(hidden.mean(1))


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int,
    batch: int = 32,
    every: int = 10,
    loss_fn: Callable = F.cross_entropy,
    eval_every: int = 0,
    x_val: torch.Tensor | None = None,
    y_val: torch.Tensor | None = None,
    scheduler=None,
    seed: int = 0,
    clip: float | None = None,
) -> tuple[DynamicsMonitor, list[dict]]:
    """Train with the monitor attached; returns the (not yet closed) monitor and faults.

    One intra-op thread: these models are far too small to gain from more, and on a busy
    machine extra threads only contend."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(model, optimizer, x, y, steps=steps, batch=batch, every=every, loss_fn=loss_fn,
                      eval_every=eval_every, x_val=x_val, y_val=y_val, scheduler=scheduler, seed=seed, clip=clip)
    finally:
        torch.set_num_threads(threads)


def _train(model, optimizer, x, y, *, steps, batch, every, loss_fn, eval_every, x_val, y_val, scheduler, seed, clip):
    torch.manual_seed(seed)
    faults: list[dict] = []
    monitor = DynamicsMonitor(model, every=every, faults=faults)
    generator = torch.Generator().manual_seed(seed)
    for step in range(steps):
        index = torch.randint(0, len(x), (batch,), generator=generator)
        model.train()
        loss = loss_fn(model(x[index]), y[index])
        monitor.on_loss(loss, step)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        monitor.on_before_update(step)
        optimizer.step()
        monitor.on_after_update(step)
        if scheduler is not None:
            scheduler.step()
        if eval_every and (step + 1) % eval_every == 0:
            model.eval()
            with torch.no_grad():
                monitor.on_eval_loss(float(loss_fn(model(x_val), y_val)), step)
    return monitor, faults


def dynamics_findings(monitor: DynamicsMonitor) -> list:
    registry = load_rules()
    rules = [rule for rule in registry if rule.area == "dynamics"]
    return run_rules(monitor.measurements(), rules).findings


def cosine_schedule(optimizer, steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
