"""Small synthetic tasks for the tuning benchmarks: a tabular MLP, a CNN, an LSTM and a
small transformer, each learnable but not trivially (a teacher with label noise), with a
DataLoader of 32-sample batches."""
from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

SAMPLES = 1024
BATCH = 32


@dataclass
class Task:
    name: str
    make_model: Callable[[], nn.Module]
    loader: DataLoader
    loss_fn: Callable


def _loader(x: torch.Tensor, y: torch.Tensor) -> DataLoader:
    return DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True,
                      generator=torch.Generator().manual_seed(0))


def _noisy_labels(logits: torch.Tensor, generator: torch.Generator, flip: float = 0.1) -> torch.Tensor:
    y = logits.argmax(1)
    flips = torch.rand(len(y), generator=generator) < flip
    y[flips] = torch.randint(0, logits.shape[1], (int(flips.sum()),), generator=generator)
    return y


def tabular() -> tuple[DataLoader, Callable[[], nn.Module]]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(SAMPLES, 20, generator=g)
    teacher = torch.randn(20, 16, generator=g), torch.randn(16, 4, generator=g)
    y = _noisy_labels(torch.tanh(x @ teacher[0]) @ teacher[1], g)

    def model() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))

    return _loader(x, y), model


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def images() -> tuple[DataLoader, Callable[[], nn.Module]]:
    """12×12 noise images with a bright 3×3 blob in one of four quadrants (the class)."""
    g = torch.Generator().manual_seed(2)
    x = 0.5 * torch.randn(SAMPLES, 1, 12, 12, generator=g)
    y = torch.randint(0, 4, (SAMPLES,), generator=g)
    for i in range(SAMPLES):
        row = (int(y[i]) // 2) * 6 + int(torch.randint(0, 4, (1,), generator=g))
        col = (int(y[i]) % 2) * 6 + int(torch.randint(0, 4, (1,), generator=g))
        x[i, 0, row:row + 3, col:col + 3] += 2.0
    flips = torch.rand(SAMPLES, generator=g) < 0.1
    y[flips] = torch.randint(0, 4, (int(flips.sum()),), generator=g)

    def model() -> nn.Module:
        torch.manual_seed(0)
        return SmallCNN()

    return _loader(x, y), model


class LSTMClassifier(nn.Module):
    def __init__(self, vocab: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, 16)
        self.lstm = nn.LSTM(16, 32, batch_first=True)
        self.head = nn.Linear(32, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        output, _ = self.lstm(self.embed(tokens))
        return self.head(output[:, -1])


def sequences() -> tuple[DataLoader, Callable[[], nn.Module]]:
    """Token sequences; the class says whether token 1 occurs more often than token 2."""
    g = torch.Generator().manual_seed(3)
    x = torch.randint(0, 8, (SAMPLES, 12), generator=g)
    y = ((x == 1).sum(1) > (x == 2).sum(1)).long()
    flips = torch.rand(SAMPLES, generator=g) < 0.05
    y[flips] = 1 - y[flips]

    def model() -> nn.Module:
        torch.manual_seed(0)
        return LSTMClassifier()

    return _loader(x, y), model


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 8, length: int = 10, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(0.02 * torch.randn(length, width))
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(width, 4)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(tokens) + self.position).mean(1))


def transformer_tokens() -> tuple[DataLoader, Callable[[], nn.Module]]:
    """The class is the first token mod 4: the model must attend to one position."""
    g = torch.Generator().manual_seed(4)
    x = torch.randint(0, 8, (SAMPLES, 10), generator=g)
    y = x[:, 0] % 4
    flips = torch.rand(SAMPLES, generator=g) < 0.05
    y[flips] = torch.randint(0, 4, (int(flips.sum()),), generator=g)

    def model() -> nn.Module:
        torch.manual_seed(0)
        return TinyTransformer()

    return _loader(x, y), model


DATASETS = {"mlp-tabular": tabular, "cnn-images": images, "lstm-sequences": sequences,
            "transformer-tokens": transformer_tokens}
OPTIMIZERS = {
    "sgd": lambda params: torch.optim.SGD(params, lr=0.01, momentum=0.9),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-3),
}


def tasks() -> list[tuple[str, str, DataLoader, Callable[[], nn.Module]]]:
    """Each task builds its own data and loader (seeded), so its batches are the same whether
    it runs alone (--only) or after the others."""
    out = []
    for data_name, make in DATASETS.items():
        for optimizer_name in OPTIMIZERS:
            loader, model = make()
            out.append((data_name, optimizer_name, loader, model))
    return out
