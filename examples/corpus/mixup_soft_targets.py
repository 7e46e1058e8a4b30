"""Mixup training, as facebookresearch/mixup-cifar10's train.py writes it, and its soft-target form.

`mixup_data` mixes each batch with a shuffled copy of itself (λ ~ Beta(α, α)) and
`mixup_criterion` is λ·CE(pred, y_a) + (1-λ)·CE(pred, y_b): two loss calls per step, whose
training loss stays well above that of plain training even when the model is good (the
targets are mixtures). `--soft` uses the form of torchvision's reference scripts (v2.MixUp):
one `F.cross_entropy(pred, mixed_one_hot, label_smoothing=0.1)` with probability targets.
An MLP on synthetic 10-class data, SGD with momentum 0.9, weight decay 1e-4, an evaluation
each epoch in eval mode.

The loss-level checks must not call the high training loss stuck or at chance while the
test loss is low.

    python mixup_soft_targets.py [--soft] [--alpha A]
"""
import argparse

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

def mixup_data(x, y, alpha=1.0):
    '''Returns mixed inputs, pairs of targets, and lambda'''
    if alpha > 0:
        lam = np.random.beta(alpha, alpha)
    else:
        lam = 1

    batch_size = x.size()[0]
    index = torch.randperm(batch_size)

    mixed_x = lam * x + (1 - lam) * x[index, :]
    y_a, y_b = y, y[index]
    return mixed_x, y_a, y_b, lam


def mixup_criterion(criterion, pred, y_a, y_b, lam):
    return lam * criterion(pred, y_a) + (1 - lam) * criterion(pred, y_b)


def main():
    parser = argparse.ArgumentParser(description='PyTorch mixup Training')
    parser.add_argument('--alpha', default=1., type=float, help='mixup interpolation coefficient')
    parser.add_argument('--epochs', default=6, type=int)
    parser.add_argument('--soft', action='store_true', help='one cross_entropy on mixed one-hot targets')
    args = parser.parse_args()
    torch.manual_seed(0)
    np.random.seed(0)
    generator = torch.Generator().manual_seed(0)
    centers = 1.5 * torch.randn(10, 32, generator=generator)
    labels = torch.randint(0, 10, (3000,), generator=generator)
    inputs = centers[labels] + torch.randn(3000, 32, generator=generator)
    train_x, train_y, test_x, test_y = inputs[:2500], labels[:2500], inputs[2500:], labels[2500:]

    net = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Dropout(0.2), nn.Linear(256, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)

    for epoch in range(args.epochs):
        net.train()
        train_loss, total = 0.0, 0
        order = torch.randperm(2500, generator=generator)
        for start in range(0, 2500, 64):
            batch = order[start:start + 64]
            x, y = train_x[batch], train_y[batch]
            x, targets_a, targets_b, lam = mixup_data(x, y, args.alpha)
            outputs = net(x)
            if args.soft:
                soft = lam * F.one_hot(targets_a, 10).float() + (1 - lam) * F.one_hot(targets_b, 10).float()
                loss = F.cross_entropy(outputs, soft, label_smoothing=0.1)
            else:
                loss = mixup_criterion(criterion, outputs, targets_a, targets_b, lam)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * len(batch)
            total += len(batch)

        net.eval()
        with torch.no_grad():
            outputs = net(test_x)
            test_loss = criterion(outputs, test_y).item()
            accuracy = (outputs.argmax(1) == test_y).float().mean().item()
        print(f"epoch {epoch}: train loss {train_loss / total:.3f}, test loss {test_loss:.3f}, accuracy {accuracy:.3f}")


if __name__ == '__main__':
    main()
