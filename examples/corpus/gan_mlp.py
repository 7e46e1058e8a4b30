"""A small GAN on 2-D data with the training loop of pytorch/examples dcgan/main.py.

Two models, two Adam optimizers (betas 0.5, 0.999), BCELoss on a sigmoid discriminator:
(1) netD.zero_grad(); D on real, D on fake.detach(); errD_real.backward(); errD_fake.backward();
optimizerD.step(); (2) netG.zero_grad(); D on fake with real labels; errG.backward();
optimizerG.step() — the generator's backward goes through D and leaves gradients in D that the
next netD.zero_grad() clears. The data are points on a ring.

    python gan_mlp.py [--bug NAME]

Bugs, as users write them:
  no-netd-zero-grad   netD.zero_grad() left out: D's step also uses the generator pass's gradients
"""
import argparse
import math

import torch
from torch import nn

BUGS = ("none", "no-netd-zero-grad")


def ring(n, generator):
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    radius = 2 + 0.1 * torch.randn(n, generator=generator)
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--iterations", type=int, default=150)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    nz = 4
    netG = nn.Sequential(nn.Linear(nz, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    netD = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2),
                         nn.Linear(32, 1), nn.Sigmoid())
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=1e-3, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    for i in range(args.iterations):
        real = ring(64, generator)
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        if args.bug != "no-netd-zero-grad":
            netD.zero_grad()
        label = torch.full((64, 1), real_label)
        errD_real = criterion(netD(real), label)
        errD_real.backward()
        fake = netG(torch.randn(64, nz, generator=generator))
        label.fill_(fake_label)
        errD_fake = criterion(netD(fake.detach()), label)
        errD_fake.backward()
        optimizerD.step()
        # (2) Update G network: maximize log(D(G(z)))
        netG.zero_grad()
        label.fill_(real_label)
        errG = criterion(netD(fake), label)
        errG.backward()
        optimizerG.step()
        if i % 50 == 0 or i == args.iterations - 1:
            with torch.no_grad():
                radius = netG(torch.randn(256, nz, generator=generator)).norm(dim=1)
            print(f"[{i}] Loss_D {(errD_real + errD_fake).item():.4f}  Loss_G {errG.item():.4f}  "
                  f"fake radius {radius.mean().item():.2f} ± {radius.std().item():.2f}")


if __name__ == "__main__":
    main()
