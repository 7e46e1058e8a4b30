"""Mixed precision with torch.amp.GradScaler, the CUDA AMP recipe run on CPU with float16 autocast.

`scaler.scale(loss).backward(); scaler.unscale_(optimizer); clip_grad_norm_; scaler.step(optimizer);
scaler.update()` — the documented order, with gradient clipping between unscale and step.
torch >= 2.3 accepts `GradScaler("cpu")` and float16 autocast on CPU; the scaler is enabled and
starts at 65536.

    python gradscaler_fp16.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad   optimizer.zero_grad() left out
  softmax-ce     cross-entropy on softmax outputs
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "softmax-ce")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.5 * torch.randn(5, 20, generator=generator)
    labels = torch.randint(0, 5, (1200,), generator=generator)
    inputs = centers[labels] + torch.randn(1200, 20, generator=generator)
    train_x, train_y, val_x, val_y = inputs[:1000], labels[:1000], inputs[1000:], labels[1000:]
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 5))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu")
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1000, generator=generator)
        for start in range(0, 1000, 40):
            index = order[start:start + 40]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.float16):
                output = model(train_x[index])
                if args.bug == "softmax-ce":
                    output = F.softmax(output, dim=-1)
                loss = F.cross_entropy(output, train_y[index])
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
        model.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.float16):
            val_loss = F.cross_entropy(model(val_x), val_y).item()
        print(f"epoch {epoch}: loss {loss.item():.4f}  val loss {val_loss:.4f}  scale {scaler.get_scale():.0f}")


if __name__ == "__main__":
    main()
