"""Gradient accumulation done right: k micro-batches per optimizer step, each loss divided by k.

The pattern of the HF/accelerate docs and every "bigger effective batch on a small machine"
tutorial: `loss = criterion(...) / accumulation_steps; loss.backward()`, and
`optimizer.step(); optimizer.zero_grad()` every `accumulation_steps` micro-batches.
A small CNN-free classifier with BatchNorm, SGD with momentum, micro-batches of 16, k = 4.

    python grad_accumulation.py [--bug NAME]

Bugs, as users write them:
  not-averaged   the loss is not divided by accumulation_steps (effective lr k times larger)
"""
import argparse

import torch
from torch import nn

BUGS = ("none", "not-averaged")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--accumulation-steps", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.2 * torch.randn(6, 24, generator=generator)
    labels = torch.randint(0, 6, (1536,), generator=generator)
    inputs = centers[labels] + torch.randn(1536, 24, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1280], labels[:1280], inputs[1280:], labels[1280:]
    model = nn.Sequential(nn.Linear(24, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 6))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    k = args.accumulation_steps
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1280, generator=generator)
        optimizer.zero_grad()
        for i, start in enumerate(range(0, 1280, 16)):
            index = order[start:start + 16]
            loss = criterion(model(train_x[index]), train_y[index])
            if args.bug != "not-averaged":
                loss = loss / k
            loss.backward()
            if (i + 1) % k == 0:
                optimizer.step()
                optimizer.zero_grad()
        model.eval()
        with torch.no_grad():
            val_loss = criterion(model(val_x), val_y).item()
        print(f"epoch {epoch}: last micro-batch loss {loss.item():.4f}  val loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
