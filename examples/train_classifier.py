"""A small MLP classifier with dropout and batch normalisation on synthetic data.

A realistic, healthy training loop: mini-batches, Adam, `optimizer.zero_grad()` every
step, and a proper evaluation pass (`model.eval()` + `torch.no_grad()`) with a validation
loss each epoch. `--bug` injects one classic fault:

  no-zero-grad            optimizer.zero_grad() is never called
  softmax-ce              F.cross_entropy receives softmax probabilities instead of logits
  no-eval                 the evaluation pass runs with the model still in training mode
  detach                  the hidden features are detached: the first layers never learn
  missing-from-optimizer  the output layer is left out of the optimizer
  lr-too-high             a learning rate 1000x too large

    nndoctor run examples/train_classifier.py --bug no-zero-grad
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "softmax-ce", "no-eval", "detach", "missing-from-optimizer", "lr-too-high")


class Classifier(nn.Module):
    def __init__(self, features: int, classes: int, hidden: int = 64, detach: bool = False) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(0.2),
        )
        self.head = nn.Linear(hidden, classes)
        self.detach = detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.body(x)
        if self.detach:
            features = features.detach()
        return self.head(features)


def make_data(n: int, centers: torch.Tensor, generator: torch.Generator):
    classes, features = centers.shape
    labels = torch.randint(0, classes, (n,), generator=generator)
    inputs = centers[labels] + torch.randn(n, features, generator=generator)
    return inputs, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)  # tiny model: threads cost more than they bring
    generator = torch.Generator().manual_seed(0)
    features, classes = 20, 5
    centers = torch.randn(classes, features, generator=generator) * 0.5
    train_x, train_y = make_data(1024, centers, generator)
    val_x, val_y = make_data(512, centers, generator)

    model = Classifier(features, classes, detach=args.bug == "detach")
    lr = args.lr * (1000 if args.bug == "lr-too-high" else 1)
    params = model.body.parameters() if args.bug == "missing-from-optimizer" else model.parameters()
    optimizer = torch.optim.Adam(params, lr=lr)

    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(order), 64):
            batch = order[start:start + 64]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            logits = model(train_x[batch])
            if args.bug == "softmax-ce":
                loss = F.cross_entropy(F.softmax(logits, dim=1), train_y[batch])
            else:
                loss = F.cross_entropy(logits, train_y[batch])
            loss.backward()
            optimizer.step()

        if args.bug != "no-eval":
            model.eval()
        val_loss, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(val_x), 256):
                logits = model(val_x[start:start + 256])
                val_loss += F.cross_entropy(logits, val_y[start:start + 256], reduction="sum").item()
                correct += (logits.argmax(1) == val_y[start:start + 256]).sum().item()
        print(f"epoch {epoch}: train loss {loss.item():.3f}  val loss {val_loss / len(val_x):.3f}  "
              f"val acc {correct / len(val_x):.3f}")


if __name__ == "__main__":
    main()
