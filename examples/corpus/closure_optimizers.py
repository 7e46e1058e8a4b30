"""An MLP classifier whose optimizer is stepped with a closure: `optimizer.step(closure)`.

Every torch optimizer accepts a closure; Lightning's automatic optimization calls
`optimizer.step(closure)` for Adam and SGD too, and people copy the LBFGS pattern into code
that later switches optimizer. The closure zero-grads, forwards, backwards and returns the loss.

    python closure_optimizers.py [--optimizer adam|adamw|sgd] [--bug NAME]

Bugs, as users write them:
  no-zero-grad   the closure never calls optimizer.zero_grad()
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad")
OPTIMIZERS = {
    "adam": lambda params: torch.optim.Adam(params, lr=1e-3),
    "adamw": lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01),
    "sgd": lambda params: torch.optim.SGD(params, lr=0.05, momentum=0.9),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 2 * torch.randn(4, 16, generator=generator)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    inputs = centers[labels] + torch.randn(1200, 16, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1000], labels[:1000], inputs[1000:], labels[1000:]
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4))
    optimizer = OPTIMIZERS[args.optimizer](model.parameters())
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1000, generator=generator)
        for start in range(0, 1000, 50):
            x, y = train_x[order[start:start + 50]], train_y[order[start:start + 50]]

            def closure():
                if args.bug != "no-zero-grad":
                    optimizer.zero_grad()
                loss = F.cross_entropy(model(x), y)
                loss.backward()
                return loss

            loss = optimizer.step(closure)
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
            val_loss = F.cross_entropy(logits, val_y).item()
        accuracy = (logits.argmax(1) == val_y).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
