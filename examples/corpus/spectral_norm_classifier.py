"""A classifier with spectral-normalised layers (torch.nn.utils.spectral_norm, the API of most
GAN discriminator code), as used for Lipschitz-constrained models.

spectral_norm estimates the largest singular value by power iteration, run only in training-mode
forwards. The clean script does its first forward in training; the bug evaluates the model
before any training forward, when the estimate is still the random initial vector.

    python spectral_norm_classifier.py [--bug NAME]

Bugs, as users write them:
  eval-before-any-training   a baseline evaluation (model.eval(), no_grad) before training starts
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import spectral_norm

BUGS = ("none", "eval-before-any-training")


def make_model():
    return nn.Sequential(spectral_norm(nn.Linear(20, 64)), nn.ReLU(),
                         spectral_norm(nn.Linear(64, 64)), nn.ReLU(),
                         spectral_norm(nn.Linear(64, 10)))


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 3 * torch.randn(10, 20, generator=generator)
    labels = torch.randint(0, 10, (1200,), generator=generator)
    inputs = centers[labels] + torch.randn(1200, 20, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1000], labels[:1000], inputs[1000:], labels[1000:]
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    if args.bug == "eval-before-any-training":
        print(f"before training: val loss {evaluate(model, val_x, val_y):.1f}")
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1000, generator=generator)
        for start in range(0, 1000, 50):
            index = order[start:start + 50]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {evaluate(model, val_x, val_y):.4f}")


if __name__ == "__main__":
    main()
