"""Tiny real models and batches shared by the preflight tests (CPU, milliseconds per step)."""
from __future__ import annotations

import torch
import torch.nn as nn

N = 16  # samples per batch: small keeps every experiment fast


class MLP(nn.Module):
    def __init__(self, features: int = 12, hidden: int = 32, outputs: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, outputs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


class LSTMClassifier(nn.Module):
    def __init__(self, features: int = 6, hidden: int = 32, classes: int = 3, batch_first: bool = True) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.lstm = nn.LSTM(features, hidden, batch_first=batch_first)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        last = out[:, -1] if self.batch_first else out[-1]
        return self.head(last)


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 20, dim: int = 32, classes: int = 3, batch_first: bool = True, dropout: float = 0.1) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Embedding(16, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 64, dropout=dropout, batch_first=batch_first)
        self.encoder = nn.TransformerEncoder(layer, 1, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        h = self.embed(ids) + self.position(positions)
        return self.head(self.encoder(h).mean(1))


def classification_batch(features: int = 12, classes: int = 4, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N, features, generator=generator)
    y = torch.randint(0, classes, (N,), generator=generator)
    return x, y


def regression_batch(features: int = 12, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(N, features, generator=generator)
    y = x[:, :3].sum(1, keepdim=True) + 0.1 * torch.randn(N, 1, generator=generator)
    return x, y


def image_batch(classes: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(N, 1, 8, 8, generator=generator), torch.randint(0, classes, (N,), generator=generator)


def sequence_batch(features: int = 6, length: int = 10, classes: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(N, length, features, generator=generator), torch.randint(0, classes, (N,), generator=generator)


def token_batch(vocab: int = 20, length: int = 12, classes: int = 3, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab, (N, length), generator=generator), torch.randint(0, classes, (N,), generator=generator)


def healthy_setups():
    """(name, model, batch, loss_fn, optimizer) for ordinary, correct training setups."""
    torch.manual_seed(0)
    setups = []
    mlp = MLP()
    setups.append(("mlp-classifier", mlp, classification_batch(), nn.CrossEntropyLoss(),
                   torch.optim.Adam(mlp.parameters(), lr=1e-3)))
    reg = MLP(outputs=1, dropout=0.1)
    setups.append(("mlp-regressor", reg, regression_batch(), nn.MSELoss(),
                   torch.optim.SGD(reg.parameters(), lr=0.01, momentum=0.9)))
    cnn = CNN()
    setups.append(("cnn", cnn, image_batch(), nn.CrossEntropyLoss(),
                   torch.optim.SGD(cnn.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)))
    lstm = LSTMClassifier()
    setups.append(("lstm", lstm, sequence_batch(), nn.CrossEntropyLoss(), torch.optim.Adam(lstm.parameters(), lr=1e-3)))
    transformer = TinyTransformer()
    setups.append(("transformer", transformer, token_batch(), nn.CrossEntropyLoss(label_smoothing=0.1),
                   torch.optim.AdamW(transformer.parameters(), lr=5e-4, weight_decay=0.01)))
    return setups
