"""K-fold cross-validation of a small MLP regressor: a fresh model per fold, the mean fold score.

    python kfold_cv.py [--bug NAME]

Bugs, as users write them:
  optimizer-outside-fold-loop   the optimizer is created once, before the fold loop, over the
                                first fold's model; every later fold's model is never updated
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "optimizer-outside-fold-loop")


def make_model():
    return nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(900, 6, generator=generator)
    y = x[:, :1] * x[:, 1:2] + torch.sin(x[:, 2:3]) + 0.1 * torch.randn(900, 1, generator=generator)
    fold_of = torch.arange(900) % args.folds
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scores = []
    for fold in range(args.folds):
        model = make_model()
        if args.bug != "optimizer-outside-fold-loop":
            optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
        train_x, train_y = x[fold_of != fold], y[fold_of != fold]
        val_x, val_y = x[fold_of == fold], y[fold_of == fold]
        for epoch in range(args.epochs):
            model.train()
            order = torch.randperm(len(train_y), generator=generator)
            for start in range(0, len(order), 30):
                index = order[start:start + 30]
                optimizer.zero_grad()
                loss = F.mse_loss(model(train_x[index]), train_y[index])
                loss.backward()
                optimizer.step()
        model.eval()
        with torch.no_grad():
            scores.append(F.mse_loss(model(val_x), val_y).item())
        print(f"fold {fold}: val mse {scores[-1]:.4f}")
    print(f"cross-validated mse {sum(scores) / len(scores):.4f}")


if __name__ == "__main__":
    main()
