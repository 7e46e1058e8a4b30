"""A training loop that measures the untrained model first: `evaluate()` at iteration 0, under
torch.no_grad(), then every epoch — the "baseline before training" habit of many notebooks.

    python eval_before_training.py [--bug NAME]

Bugs, as users write them:
  softmax-ce   the model's forward ends with F.softmax and nn.CrossEntropyLoss is used on it
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "softmax-ce")


class Classifier(nn.Module):
    def __init__(self, softmax_output):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 6))
        self.softmax_output = softmax_output

    def forward(self, x):
        logits = self.net(x)
        return F.softmax(logits, dim=1) if self.softmax_output else logits


def evaluate(model, criterion, x, y):
    model.eval()
    with torch.no_grad():
        output = model(x)
        return criterion(output, y).item(), (output.argmax(1) == y).float().mean().item()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.3 * torch.randn(6, 20, generator=generator)
    labels = torch.randint(0, 6, (1400,), generator=generator)
    inputs = centers[labels] + torch.randn(1400, 20, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1200], labels[:1200], inputs[1200:], labels[1200:]
    model = Classifier(softmax_output=args.bug == "softmax-ce")
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    val_loss, accuracy = evaluate(model, criterion, val_x, val_y)
    print(f"iteration 0: val loss {val_loss:.4f}  val acc {accuracy:.3f}")
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(1200, generator=generator)
        for start in range(0, 1200, 48):
            index = order[start:start + 48]
            optimizer.zero_grad()
            loss = criterion(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
        val_loss, accuracy = evaluate(model, criterion, val_x, val_y)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
