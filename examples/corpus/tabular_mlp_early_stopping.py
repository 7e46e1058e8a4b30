"""A tabular MLP classifier with a validation split, early stopping and the best weights restored.

The usual shape of a Kaggle-style tabular script: standardise the features with the training
split's mean/std, a DataLoader over TensorDatasets, Adam, a validation loss each epoch, stop when
it has not improved for `patience` epochs, then load the best state_dict. The data are synthetic:
7 classes from a random linear teacher on 12 features whose raw scales range from 1e-3 to 1e4.

    python tabular_mlp_early_stopping.py [--bug NAME]

Bugs, as users write them:
  labels-shuffled     labels permuted on their own when the rows are shuffled (inputs carry no signal)
  unscaled-features   the StandardScaler step is skipped: raw scales 1e-3 .. 1e4
  weight-decay-high   SGD(weight_decay=1.0) ("1.0 regularisation") instead of 1e-4
  optimizer-on-copy   the optimizer is built over a deepcopy of the model kept "for the best weights"
  frozen-by-mistake   the first layers are frozen to "warm up the head" and never unfrozen,
                      while the optimizer was given all parameters
"""
import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUGS = ("none", "labels-shuffled", "unscaled-features", "weight-decay-high", "optimizer-on-copy",
        "frozen-by-mistake")
CLASSES = 7


def make_table(n, generator):
    scales = torch.logspace(-3, 4, 12)
    latent = torch.randn(n, 12, generator=generator)
    teacher = torch.randn(12, CLASSES, generator=generator)
    logits = 2.0 * latent @ teacher + 0.5 * torch.randn(n, CLASSES, generator=generator)
    labels = logits.argmax(dim=1)
    features = latent * scales + 3 * scales  # raw columns: different units, nonzero means
    return features, labels


def mlp(features):
    return nn.Sequential(
        nn.Linear(features, 64), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.1),
        nn.Linear(64, CLASSES),
    )


def evaluate(model, loader):
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for x, y in loader:
            total += F.cross_entropy(model(x), y, reduction="sum").item()
            count += len(y)
    return total / count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--max-epochs", type=int, default=8)
    parser.add_argument("--patience", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    features, labels = make_table(3000, generator)
    order = torch.randperm(len(labels), generator=generator)
    if args.bug == "labels-shuffled":
        features, labels = features[order], labels[torch.randperm(len(labels), generator=generator)]
    else:
        features, labels = features[order], labels[order]
    train_x, val_x = features[:2400], features[2400:]
    train_y, val_y = labels[:2400], labels[2400:]
    if args.bug != "unscaled-features":
        mean, std = train_x.mean(dim=0), train_x.std(dim=0)
        train_x, val_x = (train_x - mean) / std, (val_x - mean) / std
    train_loader = DataLoader(TensorDataset(train_x, train_y), batch_size=64, shuffle=True)
    val_loader = DataLoader(TensorDataset(val_x, val_y), batch_size=256)

    model = mlp(train_x.shape[1])
    if args.bug == "optimizer-on-copy":
        best_model = copy.deepcopy(model)
        optimizer = torch.optim.Adam(best_model.parameters(), lr=1e-3)
    elif args.bug == "weight-decay-high":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1.0)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    if args.bug == "frozen-by-mistake":
        for layer in list(model)[:6]:
            layer.requires_grad_(False)

    best_loss, best_state, bad_epochs = float("inf"), None, 0
    for epoch in range(args.max_epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        val_loss = evaluate(model, val_loader)
        print(f"epoch {epoch}: train loss {loss.item():.4f}  val loss {val_loss:.4f}")
        if val_loss < best_loss - 1e-4:
            best_loss, best_state, bad_epochs = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            bad_epochs += 1
            if bad_epochs >= args.patience:
                print(f"early stopping at epoch {epoch}")
                break
    model.load_state_dict(best_state)
    print(f"best val loss {best_loss:.4f}")


if __name__ == "__main__":
    main()
