"""Fine-tuning a classification head on a frozen feature extractor (the transfer-learning tutorial).

The backbone is "pretrained" first on a related task (here: 20 quick steps on other labels, so
the script needs no download), then frozen on purpose with `requires_grad_(False)` and kept in
eval mode, and only the new head goes to the optimizer, as torchvision's fine-tuning tutorial
does with `optimizer = SGD(model.fc.parameters(), ...)`.

    python frozen_backbone_finetune.py [--bug NAME]

Bugs, as users write them:
  frozen-by-mistake   the whole model is frozen "to keep the pretrained weights" and the head is
                      re-enabled through a copy, so the optimizer (over model.parameters())
                      trains only the head's bias — the new head weight stays frozen too
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "frozen-by-mistake")


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(32, 96), nn.BatchNorm1d(96), nn.ReLU(),
                                      nn.Linear(96, 64), nn.BatchNorm1d(64), nn.ReLU())

    def forward(self, x):
        return self.features(x)


class FineTuned(nn.Module):
    def __init__(self, backbone, classes):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        return self.fc(self.backbone(x))


def pretrain(backbone, x, y, generator):
    head = nn.Linear(64, 8)
    optimizer = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=3e-3)
    backbone.train()
    for _ in range(20):
        index = torch.randint(0, len(y), (128,), generator=generator)
        optimizer.zero_grad()
        F.cross_entropy(head(backbone(x[index])), y[index]).backward()
        optimizer.step()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2400, 32, generator=generator)
    mixing = torch.randn(32, 8, generator=generator)
    pretrain_labels = (x @ mixing).argmax(dim=1)
    labels = (x @ mixing[:, :3]).argmax(dim=1)  # the new task reuses the same directions
    backbone = Backbone()
    pretrain(backbone, x[:1200], pretrain_labels[:1200], generator)

    model = FineTuned(backbone, classes=3)
    if args.bug == "frozen-by-mistake":
        model.requires_grad_(False)
        head = model.fc
        head.bias.requires_grad_(True)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:
        model.backbone.requires_grad_(False)
        optimizer = torch.optim.SGD(model.fc.parameters(), lr=0.05, momentum=0.9)
    train_x, train_y, val_x, val_y = x[1200:2200], labels[1200:2200], x[2200:], labels[2200:]
    for epoch in range(args.epochs):
        model.train()
        model.backbone.eval()  # frozen BatchNorm statistics stay the pretrained ones
        order = torch.randperm(1000, generator=generator)
        for start in range(0, 1000, 50):
            index = order[start:start + 50]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(train_x[index]), train_y[index])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            logits = model(val_x)
            val_loss = F.cross_entropy(logits, val_y).item()
        accuracy = (logits.argmax(1) == val_y).float().mean().item()
        print(f"epoch {epoch}: loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
