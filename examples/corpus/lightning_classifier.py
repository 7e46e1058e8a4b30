"""A tiny LightningModule classifier trained by `lightning.Trainer` with automatic optimization.

training_step returns the loss, validation_step logs val_loss, configure_optimizers returns Adam
with a StepLR per epoch: Lightning itself calls `optimizer.step(closure)`, zero_grad and
backward. The Trainer runs on CPU without logger, checkpoints or progress bar.

    python lightning_classifier.py [--bug NAME] [--accumulate N] [--clip C]

Bugs, as users write them:
  softmax-ce          training_step applies softmax before F.cross_entropy
  frozen-by-mistake   the encoder is frozen in __init__ (meant for a warm-up that never ends),
                      configure_optimizers still hands all parameters to Adam
  lr-100x             Adam(lr=0.3)
"""
import argparse
import warnings

import lightning as L
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUGS = ("none", "softmax-ce", "frozen-by-mistake", "lr-100x")
warnings.filterwarnings("ignore", ".*does not have many workers.*")


class LitClassifier(L.LightningModule):
    def __init__(self, bug="none", lr=1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 32), nn.ReLU())
        self.head = nn.Linear(32, 4)
        if bug == "frozen-by-mistake":
            self.encoder.requires_grad_(False)

    def forward(self, x):
        return self.head(self.encoder(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        if self.hparams.bug == "softmax-ce":
            logits = F.softmax(logits, dim=-1)
        loss = F.cross_entropy(logits, y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=False)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean())

    def configure_optimizers(self):
        lr = 0.3 if self.hparams.bug == "lr-100x" else self.hparams.lr
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)}


def loaders(seed=0):
    generator = torch.Generator().manual_seed(seed)
    centers = 1.5 * torch.randn(4, 16, generator=generator)
    labels = torch.randint(0, 4, (1200,), generator=generator)
    inputs = centers[labels] + torch.randn(1200, 16, generator=generator)
    train = TensorDataset(inputs[:1000], labels[:1000])
    val = TensorDataset(inputs[1000:], labels[1000:])
    return (DataLoader(train, batch_size=50, shuffle=True, generator=generator),
            DataLoader(val, batch_size=100))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--accumulate", type=int, default=1, help="Trainer(accumulate_grad_batches=N)")
    parser.add_argument("--clip", type=float, default=None, help="Trainer(gradient_clip_val=C)")
    args = parser.parse_args()
    L.seed_everything(0, verbose=False)
    train_loader, val_loader = loaders()
    model = LitClassifier(bug=args.bug)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=False,
                        accumulate_grad_batches=args.accumulate, gradient_clip_val=args.clip,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, train_loader, val_loader)
    print({name: round(float(value), 4) for name, value in trainer.callback_metrics.items()})


if __name__ == "__main__":
    main()
