"""A plain MLP regressor with no dropout and no normalisation layers (MSE, Adam, ReduceLROnPlateau).

Eval mode changes nothing for such a model, so leaving it in eval mode after a validation pass
is harmless: a doctor must stay silent about it.

    python no_dropout_regression.py [--bug NAME]

Variants:
  eval-left-on   validate() calls model.eval() and training never calls model.train() again
                 (harmless here: no dropout, no BatchNorm)
  lr-100x        Adam(lr=0.3)
"""
import argparse

import torch
from torch import nn

BUGS = ("none", "eval-left-on", "lr-100x")


def validate(model, x, y):
    model.eval()
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(1500, 8, generator=generator) * 2 - 1
    y = (torch.sin(3 * x[:, :1]) + x[:, 1:2] * x[:, 2:3] + 0.1 * torch.randn(1500, 1, generator=generator))
    train_x, train_y, val_x, val_y = x[:1200], y[:1200], x[1200:], y[1200:]
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.3 if args.bug == "lr-100x" else 3e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    criterion = nn.MSELoss()
    for epoch in range(args.epochs):
        if args.bug != "eval-left-on":
            model.train()
        order = torch.randperm(1200, generator=generator)
        for start in range(0, 1200, 48):
            index = order[start:start + 48]
            optimizer.zero_grad()
            loss = criterion(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
        val_loss = validate(model, val_x, val_y)
        scheduler.step(val_loss)
        print(f"epoch {epoch}: train mse {loss.item():.4f}  val mse {val_loss:.4f}")


if __name__ == "__main__":
    main()
