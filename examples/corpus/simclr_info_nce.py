"""Contrastive pre-training (SimCLR) with the InfoNCE loss as sthalles/SimCLR writes it.

`info_nce_loss` builds, for a batch of 2N views, the cosine-similarity logits of each view
against the 2N-1 others (the positive first), divides them by a temperature of 0.07 and
calls nn.CrossEntropyLoss with targets that are all 0 — the positive's column. The encoder
is an MLP (ResNet in the original) with a projection head; the "images" are synthetic
vectors from 10 latent classes, and a view is the vector with Gaussian noise and a random
quarter of the features dropped. Adam 3e-4 with weight decay 1e-4, a cosine schedule after
10 warm-up epochs shortened here, top-1 accuracy of the positive logged as in the original.

Its targets are all one class over 2N-1 "classes" and its logits are scaled by 1/0.07: the
loss-level checks (initial loss, chance level) must not take it for a badly started classifier.

    python simclr_info_nce.py [--epochs N]
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

class Encoder(nn.Module):
    def __init__(self, features=64, width=128, out_dim=32):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(features, width), nn.BatchNorm1d(width), nn.ReLU(),
                                      nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())
        # add mlp projection head
        self.projection = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, out_dim))

    def forward(self, x):
        return self.projection(self.backbone(x))


def augment(x, generator):
    keep = (torch.rand(x.shape, generator=generator) > 0.25).float()
    return (x + 0.3 * torch.randn(x.shape, generator=generator)) * keep


def info_nce_loss(features, batch_size, n_views, temperature):
    labels = torch.cat([torch.arange(batch_size) for i in range(n_views)], dim=0)
    labels = (labels.unsqueeze(0) == labels.unsqueeze(1)).float()

    features = F.normalize(features, dim=1)

    similarity_matrix = torch.matmul(features, features.T)

    # discard the main diagonal from both: labels and similarities matrix
    mask = torch.eye(labels.shape[0], dtype=torch.bool)
    labels = labels[~mask].view(labels.shape[0], -1)
    similarity_matrix = similarity_matrix[~mask].view(similarity_matrix.shape[0], -1)

    # select and combine multiple positives
    positives = similarity_matrix[labels.bool()].view(labels.shape[0], -1)

    # select only the negatives the negatives
    negatives = similarity_matrix[~labels.bool()].view(similarity_matrix.shape[0], -1)

    logits = torch.cat([positives, negatives], dim=1)
    labels = torch.zeros(logits.shape[0], dtype=torch.long)

    logits = logits / temperature
    return logits, labels


def accuracy(output, target):
    with torch.no_grad():
        return (output.argmax(dim=1) == target).float().mean().item() * 100


def main():
    parser = argparse.ArgumentParser(description="PyTorch SimCLR")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.07)
    parser.add_argument("--n-views", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = torch.randn(10, 64, generator=generator)
    data = centers[torch.randint(0, 10, (2048,), generator=generator)] + 0.5 * torch.randn(2048, 64, generator=generator)

    model = Encoder()
    optimizer = torch.optim.Adam(model.parameters(), 3e-4, weight_decay=1e-4)
    steps_per_epoch = len(data) // args.batch_size
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * steps_per_epoch)
    criterion = torch.nn.CrossEntropyLoss()

    n_iter = 0
    for epoch_counter in range(args.epochs):
        order = torch.randperm(len(data), generator=generator)
        for start in range(0, steps_per_epoch * args.batch_size, args.batch_size):
            batch = data[order[start:start + args.batch_size]]
            first = augment(batch, generator)
            second = augment(batch, generator)
            images = torch.cat([first, second], dim=0)

            features = model(images)
            logits, labels = info_nce_loss(features, args.batch_size, args.n_views, args.temperature)
            loss = criterion(logits, labels)

            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            n_iter += 1
        print(f"Epoch: {epoch_counter}\tLoss: {loss.item():.4f}\tTop1 accuracy: {accuracy(logits, labels):.1f}")


if __name__ == "__main__":
    main()
