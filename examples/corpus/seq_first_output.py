"""A GRU sequence classifier that returns its last hidden state, shaped (num_layers, B, C).

`nn.GRU` returns `h_n` with a leading layer dimension; the script projects it to class scores of
shape (1, B, C) and flattens with `.view(-1, C)` before CrossEntropyLoss — ordinary and correct.

    python seq_first_output.py
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


class GRUClassifier(nn.Module):
    def __init__(self, features, hidden, classes):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        _, h_n = self.gru(x)
        return self.head(h_n)  # (1, B, classes)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (900,), generator=generator)
    t = torch.linspace(0, 6.28, 24)
    freq = (labels.float() + 1)[:, None]
    x = torch.sin(freq * t)[:, :, None] + 0.3 * torch.randn(900, 24, 1, generator=generator)
    train_x, train_y, val_x, val_y = x[:750], labels[:750], x[750:], labels[750:]
    model = GRUClassifier(1, 32, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(750, generator=generator)
        for start in range(0, 750, 50):
            index = order[start:start + 50]
            optimizer.zero_grad()
            output = model(train_x[index])
            loss = F.cross_entropy(output.view(-1, 3), train_y[index])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(val_x).view(-1, 3)
            val_loss = F.cross_entropy(logits, val_y).item()
        accuracy = (logits.argmax(1) == val_y).float().mean().item()
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
