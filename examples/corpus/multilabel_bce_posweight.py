"""Multi-label classification with BCEWithLogitsLoss and a per-label pos_weight.

Each sample can carry several of 8 tags; rare tags get pos_weight = negatives / positives, as
the torch docs suggest for imbalanced multi-label data. Metrics per epoch: validation loss and
micro-F1 at a 0.5 threshold on sigmoid outputs.

    python multilabel_bce_posweight.py [--bug NAME]

Bugs, as users write them:
  sigmoid-into-bce-logits   the model ends in nn.Sigmoid() and still uses BCEWithLogitsLoss
  no-zero-grad              optimizer.zero_grad() left out
"""
import argparse

import torch
from torch import nn

BUGS = ("none", "sigmoid-into-bce-logits", "no-zero-grad")
TAGS = 8


def make_data(n, generator):
    x = torch.randn(n, 20, generator=generator)
    teacher = torch.randn(20, TAGS, generator=generator)
    # Shifted thresholds make tags between ~5 % and ~45 % frequent.
    offsets = torch.linspace(0.2, 2.5, TAGS)
    y = ((x @ teacher) / 4.5 > offsets).float()
    return x, y


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x, y = make_data(2000, generator)
    train_x, train_y, val_x, val_y = x[:1600], y[:1600], x[1600:], y[1600:]
    positives = train_y.sum(dim=0)
    pos_weight = (len(train_y) - positives) / positives.clamp(min=1)
    layers = [nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, TAGS)]
    if args.bug == "sigmoid-into-bce-logits":
        layers.append(nn.Sigmoid())
    model = nn.Sequential(*layers)
    criterion = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_y), generator=generator)
        for start in range(0, len(order), 50):
            index = order[start:start + 50]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            loss = criterion(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
            val_loss = criterion(logits, val_y).item()
            probs = logits if args.bug == "sigmoid-into-bce-logits" else torch.sigmoid(logits)
            predicted = probs > 0.5
            tp = (predicted & (val_y > 0)).sum().item()
            f1 = 2 * tp / max(predicted.sum().item() + val_y.sum().item(), 1)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}  micro-F1 {f1:.3f}")


if __name__ == "__main__":
    main()
