"""A residual MLP classifier trained under CPU bfloat16 autocast.

`torch.autocast("cpu", dtype=torch.bfloat16)` around forward and loss, as the PyTorch AMP
recipe shows for CPUs; the weights, gradients and optimizer state stay float32, so no
GradScaler is needed. LayerNorm + residual blocks, AdamW, cosine annealing per epoch.

    python bf16_autocast.py [--bug NAME]

Bugs, as users write them:
  softmax-ce   nn.CrossEntropyLoss applied to model(x).softmax(-1)
  lr-100x      AdamW(lr=0.1) instead of 1e-3
"""
import argparse

import torch
from torch import nn

BUGS = ("none", "softmax-ce", "lr-100x")


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.ff = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def forward(self, x):
        return x + self.ff(self.norm(x))


class ResMLP(nn.Module):
    def __init__(self, features, classes, width=64, depth=3):
        super().__init__()
        self.embed = nn.Linear(features, width)
        self.blocks = nn.Sequential(*[Block(width) for _ in range(depth)])
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, classes))

    def forward(self, x):
        return self.head(self.blocks(self.embed(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.5 * torch.randn(5, 32, generator=generator)
    labels = torch.randint(0, 5, (2000,), generator=generator)
    inputs = centers[labels] + torch.randn(2000, 32, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1600], labels[:1600], inputs[1600:], labels[1600:]
    model = ResMLP(32, 5)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1 if args.bug == "lr-100x" else 1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1600, generator=generator)
        for start in range(0, 1600, 64):
            index = order[start:start + 64]
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                output = model(train_x[index])
                if args.bug == "softmax-ce":
                    output = output.softmax(-1)
                loss = criterion(output, train_y[index])
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(val_x)
            val_loss = criterion(logits, val_y).item()
        accuracy = (logits.argmax(-1) == val_y).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
