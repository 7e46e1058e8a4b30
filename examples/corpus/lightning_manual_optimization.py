"""A LightningModule with manual optimization (`automatic_optimization = False`), as GANs and
multi-optimizer models use it: `opt = self.optimizers(); opt.zero_grad();
self.manual_backward(loss); opt.step()` inside training_step, plus a scheduler stepped by hand.

    python lightning_manual_optimization.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad   opt.zero_grad() left out of training_step
"""
import argparse
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUGS = ("none", "no-zero-grad")
warnings.filterwarnings("ignore", ".*does not have many workers.*")


class LitManual(L.LightningModule):
    def __init__(self, bug="none"):
        super().__init__()
        self.automatic_optimization = False
        self.bug = bug
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 4))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        if self.bug != "no-zero-grad":
            opt.zero_grad()
        self.manual_backward(loss)
        self.clip_gradients(opt, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
        opt.step()
        self.log("train_loss", loss)

    def on_train_epoch_end(self):
        self.lr_schedulers().step()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y))

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=1e-3)
        return [optimizer], [torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.9)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    L.seed_everything(0, verbose=False)
    generator = torch.Generator().manual_seed(0)
    centers = 1.5 * torch.randn(4, 16, generator=generator)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    inputs = centers[labels] + torch.randn(1200, 16, generator=generator)
    train = DataLoader(TensorDataset(inputs[:1000], labels[:1000]), batch_size=50, shuffle=True,
                       generator=generator)
    val = DataLoader(TensorDataset(inputs[1000:], labels[1000:]), batch_size=100)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(LitManual(args.bug), train, val)
    print({name: round(float(value), 4) for name, value in trainer.callback_metrics.items()})


if __name__ == "__main__":
    main()
