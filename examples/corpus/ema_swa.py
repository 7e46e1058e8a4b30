"""Training with an exponential moving average of the weights (torch.optim.swa_utils.AveragedModel
with get_ema_multi_avg_fn), updated after every optimizer step and evaluated instead of the raw
model — the timm/YOLO habit. The EMA copy's parameters never receive gradients, on purpose.

    python ema_swa.py
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.3 * torch.randn(5, 16, generator=generator)
    labels = torch.randint(0, 5, (1200,), generator=generator)
    x = centers[labels] + torch.randn(1200, 16, generator=generator)
    train_x, train_y, val_x, val_y = x[:1000], labels[:1000], x[1000:], labels[1000:]
    model = nn.Sequential(nn.Linear(16, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 5))
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99), use_buffers=True)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(1000, generator=generator)
        for start in range(0, 1000, 50):
            index = order[start:start + 50]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
            ema.update_parameters(model)
        ema.eval()
        with torch.no_grad():
            logits = ema(val_x)
            val_loss = F.cross_entropy(logits, val_y).item()
        accuracy = (logits.argmax(1) == val_y).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.4f}  EMA val loss {val_loss:.4f}  EMA val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
