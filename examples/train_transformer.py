"""A small transformer encoder classifying synthetic token sequences, trained with AdamW,
gradient accumulation over 4 micro-batches, gradient clipping and a warm-up schedule.

The task: does the sequence contain more tokens from the first half of the vocabulary than
from the second? Evaluation uses `model.eval()` and `torch.no_grad()` every epoch.
`--bug` injects one fault:

  no-zero-grad   optimizer.zero_grad() is never called after the accumulated step
  no-eval        the evaluation pass runs with dropout still active
  softmax-ce     the loss receives softmax probabilities instead of logits
  lr-too-high    a learning rate 1000x too large
  no-warmup      a deeper encoder (4 layers) at a peak lr of 2e-2, started without the warm-up
                 that recipe relies on: the first full-size Adam steps stall it at chance

    nndoctor run examples/train_transformer.py --bug no-zero-grad
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "no-eval", "softmax-ce", "lr-too-high", "no-warmup")
NO_WARMUP_LR, NO_WARMUP_LAYERS = 2e-2, 4


class SequenceClassifier(nn.Module):
    def __init__(self, vocab: int, length: int, width: int = 32, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.position = nn.Parameter(torch.randn(1, length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, dim_feedforward=64, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(tokens) + self.position)
        return self.head(self.norm(hidden.mean(dim=1)))


def make_data(n: int, vocab: int, length: int, generator: torch.Generator):
    tokens = torch.randint(0, vocab, (n, length), generator=generator)
    labels = ((tokens < vocab // 2).sum(1) > length // 2).long()
    return tokens, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--accumulate", type=int, default=4)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    vocab, length, micro_batch = 16, 12, 16
    train_x, train_y = make_data(768, vocab, length, generator)
    val_x, val_y = make_data(256, vocab, length, generator)
    deep = args.bug == "no-warmup"
    model = SequenceClassifier(vocab, length, layers=NO_WARMUP_LAYERS if deep else 2)
    lr = NO_WARMUP_LR if deep else args.lr * (1000 if args.bug == "lr-too-high" else 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    warmup_steps = 1 if deep else 10
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup_steps))

    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        for index, start in enumerate(range(0, len(order), micro_batch)):
            batch = order[start:start + micro_batch]
            logits = model(train_x[batch])
            if args.bug == "softmax-ce":
                logits = logits.softmax(dim=-1)
            loss = F.cross_entropy(logits, train_y[batch]) / args.accumulate
            loss.backward()
            if (index + 1) % args.accumulate == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                if args.bug != "no-zero-grad":
                    optimizer.zero_grad(set_to_none=True)

        if args.bug != "no-eval":
            model.eval()
        with torch.no_grad():
            logits = model(val_x)
            val_loss = F.cross_entropy(logits, val_y).item()
            accuracy = (logits.argmax(1) == val_y).float().mean().item()
        print(f"epoch {epoch}: val loss {val_loss:.3f}  val acc {accuracy:.3f}")


if __name__ == "__main__":
    main()
