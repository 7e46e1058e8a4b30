"""A text-classification-style MLP over bag-of-embeddings with dropout written functionally.

Dropout as a call in forward() (`F.dropout(x, p, training=self.training)`) is common in ported
code; the bug is the variant where `training=True` is hard-coded (or copied from a snippet), so
evaluation outputs stay random although model.eval() was called.

    python functional_dropout_eval.py [--bug NAME]

Bugs, as users write them:
  dropout-always-on   F.dropout(x, 0.5, training=True) in forward()
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "dropout-always-on")


class BagClassifier(nn.Module):
    def __init__(self, vocab, classes, always_dropout):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab, 32, mode="mean")
        self.hidden = nn.Linear(32, 64)
        self.out = nn.Linear(64, classes)
        self.always_dropout = always_dropout

    def forward(self, tokens):
        h = F.relu(self.hidden(self.embedding(tokens)))
        h = F.dropout(h, 0.5, training=True if self.always_dropout else self.training)
        return self.out(h)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    # Each class draws most of its 12 tokens from its own quarter of a 200-word vocabulary.
    own = labels[:, None] * 50 + torch.randint(0, 50, (1200, 12), generator=generator)
    noise = torch.randint(0, 200, (1200, 12), generator=generator)
    tokens = torch.where(torch.rand(1200, 12, generator=generator) < 0.6, own, noise)
    train_x, train_y, val_x, val_y = tokens[:1000], labels[:1000], tokens[1000:], labels[1000:]
    model = BagClassifier(200, 4, always_dropout=args.bug == "dropout-always-on")
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for epoch in range(args.epochs):
        model.train()
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
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
