"""Per-sample ("online") SGD: batch size 1, one update per sample, as textbooks and many course
assignments write it. Inputs are 1-D tensors (no batch dimension), the model a small MLP.

    python per_sample_sgd.py [--bug NAME]

Bugs, as users write them:
  dead-relu   features left in raw units (up to ~100) and lr 0.1 with a 3-unit hidden layer:
              an early huge update kills every ReLU unit
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "dead-relu")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(3)
    generator = torch.Generator().manual_seed(3)
    raw = torch.rand(300, 4, generator=generator) * torch.tensor([100.0, 50.0, 1.0, 10.0])
    target = (raw[:, 0] / 100 - raw[:, 1] / 50 + raw[:, 2] > 0.5).long()
    if args.bug == "dead-relu":
        inputs, hidden, lr = raw, 3, 0.1
    else:
        inputs, hidden, lr = (raw - raw.mean(0)) / raw.std(0), 16, 0.01
    model = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for epoch in range(args.epochs):
        total, correct = 0.0, 0
        for i in torch.randperm(len(target), generator=generator).tolist():
            optimizer.zero_grad()
            logits = model(inputs[i])
            loss = F.cross_entropy(logits.unsqueeze(0), target[i].unsqueeze(0))
            loss.backward()
            optimizer.step()
            total += loss.item()
            correct += int(logits.argmax() == target[i])
        print(f"epoch {epoch}: mean loss {total / len(target):.4f}  train acc {correct / len(target):.3f}")


if __name__ == "__main__":
    main()
