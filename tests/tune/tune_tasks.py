"""Tiny learnable tasks for the tuning tests (CPU, a few ms per step)."""
from __future__ import annotations

import torch
import torch.nn as nn


def blobs(n: int = 384, features: int = 8, classes: int = 3, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Separable Gaussian blobs in 24 batches of 16."""
    g = torch.Generator().manual_seed(seed)
    centres = 2.0 * torch.randn(classes, features, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + torch.randn(n, features, generator=g)
    return [(x[i:i + 16], y[i:i + 16]) for i in range(0, n, 16)]


def random_labels(n: int = 384, features: int = 8, classes: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Labels independent of the inputs: nothing to learn that carries to held-out batches."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, features, generator=g)
    y = torch.arange(n) % classes  # balanced, so not even the class frequencies can be learnt
    y = y[torch.randperm(n, generator=g)]
    return [(x[i:i + 16], y[i:i + 16]) for i in range(0, n, 16)]


def mlp(features: int = 8, classes: int = 3, dropout: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(features, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, classes))


def first_token(n: int = 768, length: int = 10, seed: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Token sequences whose class is the first token mod 4 (24 batches of 32)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 8, (n, length), generator=g)
    y = x[:, 0] % 4
    return [(x[i:i + 32], y[i:i + 32]) for i in range(0, n, 32)]


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 8, length: int = 10, width: int = 32) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(0.02 * torch.randn(length, width))
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(width, 4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens) + self.position).mean(1))
