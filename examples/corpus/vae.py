"""The variational autoencoder of pytorch/examples vae/main.py on synthetic 14x14 "digits".

Encoder fc1 -> (mu, logvar), reparameterisation, decoder fc3 -> fc4 -> sigmoid; the loss is
binary cross-entropy of the reconstruction (summed) plus the KL divergence, Adam 1e-3. Like
MNIST, the images have an empty border (pixels that are zero in every image) and grey strokes.

    python vae.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad   optimizer.zero_grad() left out
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad")
SIDE = 14
PIXELS = SIDE * SIDE


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(PIXELS, 100)
        self.fc21 = nn.Linear(100, 8)
        self.fc22 = nn.Linear(100, 8)
        self.fc3 = nn.Linear(8, 100)
        self.fc4 = nn.Linear(100, PIXELS)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, PIXELS))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, PIXELS), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def make_images(n, generator):
    """Two random strokes per image inside a 2-pixel empty border, blurred to grey edges."""
    images = torch.zeros(n, 1, SIDE, SIDE)
    rows = torch.randint(2, SIDE - 2, (n, 2), generator=generator)
    cols = torch.randint(2, SIDE - 6, (n,), generator=generator)
    for i in range(n):
        images[i, 0, rows[i, 0], cols[i]:cols[i] + 5] = 1.0
        images[i, 0, 2:SIDE - 2, rows[i, 1]] = 1.0
    kernel = torch.tensor([[0.1, 0.2, 0.1], [0.2, 1.0, 0.2], [0.1, 0.2, 0.1]]).view(1, 1, 3, 3)
    images = F.conv2d(images, kernel, padding=1).clamp(0, 1)
    images[:, :, :1], images[:, :, -1:], images[:, :, :, :1], images[:, :, :, -1:] = 0, 0, 0, 0
    return images


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(1)
    generator = torch.Generator().manual_seed(1)
    train_images, test_images = make_images(1280, generator), make_images(256, generator)
    model = VAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, args.epochs + 1):
        model.train()
        train_loss = 0.0
        order = torch.randperm(len(train_images), generator=generator)
        for start in range(0, len(order), args.batch_size):
            data = train_images[order[start:start + args.batch_size]]
            if args.bug != "no-zero-grad":
                optimizer.zero_grad()
            recon_batch, mu, logvar = model(data)
            loss = loss_function(recon_batch, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for start in range(0, len(test_images), 128):
                data = test_images[start:start + 128]
                recon, mu, logvar = model(data)
                test_loss += loss_function(recon, data, mu, logvar).item()
        print(f"epoch {epoch}: average train loss {train_loss / len(train_images):.2f}  "
              f"test loss {test_loss / len(test_images):.2f}")


if __name__ == "__main__":
    main()
