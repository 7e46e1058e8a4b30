"""An MLP regressor (MSE) on a synthetic nonlinear function, trained with SGD + momentum,
with standardised inputs and a validation loss each epoch.

`--bug` injects one fault:

  broadcast               the prediction (N, 1) is compared with a target of shape (N,)
  no-zero-grad            optimizer.zero_grad() is never called
  missing-from-optimizer  the last layer is left out of the optimizer
  lr-too-high             a learning rate 100x too large
  init                    weights initialised with a fixed std of 1, whatever the layer width

    nndoctor run examples/train_regression.py --bug broadcast
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "broadcast", "no-zero-grad", "missing-from-optimizer", "lr-too-high", "init")


def make_data(n: int, generator: torch.Generator):
    inputs = torch.rand(n, 8, generator=generator) * 4 - 2
    targets = torch.sin(inputs[:, 0]) * 2 + inputs[:, 1] ** 2 - inputs[:, 2] * inputs[:, 3]
    return inputs, targets + 0.1 * torch.randn(n, generator=generator)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    train_x, train_y = make_data(1024, generator)
    val_x, val_y = make_data(256, generator)
    mean, std = train_x.mean(0), train_x.std(0)
    train_x, val_x = (train_x - mean) / std, (val_x - mean) / std

    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1))
    if args.bug == "init":
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=1.0)
    params = model[:4].parameters() if args.bug == "missing-from-optimizer" else model.parameters()
    lr = args.lr * (100 if args.bug == "lr-too-high" else 1)
    optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9)

    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), 32):
            batch = order[start:start + 32]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            prediction = model(train_x[batch])
            target = train_y[batch]
            if args.bug != "broadcast":
                prediction = prediction.squeeze(-1)
            loss = F.mse_loss(prediction, target)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = F.mse_loss(model(val_x).squeeze(-1), val_y).item()
        print(f"epoch {epoch}: train loss {loss.item():.3f}  val loss {val_loss:.3f}")


if __name__ == "__main__":
    main()
