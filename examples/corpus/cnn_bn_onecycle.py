"""A small MNIST-style CNN (conv + BatchNorm + dropout) trained with AdamW and OneCycleLR.

The training loop follows pytorch/examples mnist/main.py: `train()` per epoch with
`model.train()`, `test()` with `model.eval()` under `torch.no_grad()`, the scheduler stepped
per batch as OneCycleLR wants. The "digits" are synthetic: one 12x12 template per class plus
noise, normalised with the dataset mean/std like `transforms.Normalize`.

    python cnn_bn_onecycle.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad          optimizer.zero_grad() left out of the loop
  softmax-ce            F.cross_entropy(F.softmax(output), target)
  lr-100x               max_lr 0.3 instead of 3e-3
  train-mode-missing    model.train() is called once before the epochs, test() leaves eval on
  step-before-backward  optimizer.step() written before loss.backward()
  pixels-255            raw 0..255 pixel values, no ToTensor scaling and no Normalize
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "softmax-ce", "lr-100x", "train-mode-missing", "step-before-backward",
        "pixels-255")


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3)
        self.bn2 = nn.BatchNorm2d(16)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(16 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = self.dropout2(x)
        return self.fc2(x)


def make_digits(n, templates, generator):
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = templates[labels] + 0.9 * torch.rand(n, 1, 12, 12, generator=generator)
    pixels = (images.clamp(0, 1) * 255).round()  # what a uint8 image file holds
    return pixels, labels


def batches(images, labels, batch_size, generator):
    order = torch.randperm(len(labels), generator=generator)
    for start in range(0, len(labels), batch_size):
        index = order[start:start + batch_size]
        yield images[index], labels[index]


def train(model, images, labels, optimizer, scheduler, bug, generator):
    if bug != "train-mode-missing":
        model.train()
    for data, target in batches(images, labels, 64, generator):
        if bug != "no-zero-grad":
            optimizer.zero_grad()
        output = model(data)
        if bug == "softmax-ce":
            loss = F.cross_entropy(F.softmax(output, dim=1), target)
        else:
            loss = F.cross_entropy(output, target)
        if bug == "step-before-backward":
            optimizer.step()
            loss.backward()
        else:
            loss.backward()
            optimizer.step()
        scheduler.step()
    return loss.item()


def test(model, images, labels):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(labels), 128):
            data, target = images[start:start + 128], labels[start:start + 128]
            output = model(data)
            test_loss += F.cross_entropy(output, target, reduction="sum").item()
            correct += (output.argmax(dim=1) == target).sum().item()
    return test_loss / len(labels), correct / len(labels)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    # Classes share most strokes: each template is a common pattern with a few pixels of its own.
    common = (torch.rand(1, 1, 12, 12, generator=generator) > 0.6).float()
    own = (torch.rand(10, 1, 12, 12, generator=generator) > 0.85).float()
    templates = (common + own).clamp(max=1) * 0.6
    train_pixels, train_labels = make_digits(1024, templates, generator)
    test_pixels, test_labels = make_digits(256, templates, generator)
    if args.bug == "pixels-255":
        train_images, test_images = train_pixels, test_pixels
    else:
        mean, std = (train_pixels / 255).mean(), (train_pixels / 255).std()
        train_images = (train_pixels / 255 - mean) / std
        test_images = (test_pixels / 255 - mean) / std

    model = Net()
    max_lr = 0.3 if args.bug == "lr-100x" else 3e-3
    optimizer = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    steps_per_epoch = (len(train_labels) + 63) // 64
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=args.epochs,
                                                    steps_per_epoch=steps_per_epoch)
    if args.bug == "train-mode-missing":
        model.train()
    for epoch in range(1, args.epochs + 1):
        train_loss = train(model, train_images, train_labels, optimizer, scheduler, args.bug, generator)
        test_loss, accuracy = test(model, test_images, test_labels)
        print(f"epoch {epoch}: train loss {train_loss:.4f}  test loss {test_loss:.4f}  accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
