"""Full-batch softmax regression on tabular features with torch.optim.LBFGS and a closure.

The classic closure loop (`optimizer.zero_grad(); loss = ...; loss.backward(); return loss`),
with strong-Wolfe line search and L2 regularisation added to the loss, as people fit a
calibrated linear baseline before training a network. The validation loss is printed after
every outer step.

    python lbfgs_logistic.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad-in-closure   the closure never calls optimizer.zero_grad(): every line-search
                            evaluation adds onto the previous gradients
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad-in-closure")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(1500, 10, generator=generator)
    teacher = torch.randn(10, 4, generator=generator)
    y = (x @ teacher + 0.7 * torch.randn(1500, 4, generator=generator)).argmax(dim=1)
    train_x, train_y, val_x, val_y = x[:1200], y[:1200], x[1200:], y[1200:]
    model = nn.Linear(10, 4)
    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, line_search_fn="strong_wolfe")

    def closure():
        if args.bug != "no-zero-grad-in-closure":
            optimizer.zero_grad()
        loss = F.cross_entropy(model(train_x), train_y) + 1e-3 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    for step in range(args.steps):
        loss = optimizer.step(closure)
        with torch.no_grad():
            val_loss = F.cross_entropy(model(val_x), val_y).item()
        print(f"step {step}: train loss {loss.item():.4f}  val loss {val_loss:.4f}")


if __name__ == "__main__":
    main()
