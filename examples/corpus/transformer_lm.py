"""A small Transformer language model in the style of pytorch/examples word_language_model/model.py.

Embedding * sqrt(d) + sinusoidal positions, nn.TransformerEncoder with a causal mask, a linear
decoder; the loss is `F.cross_entropy(output.view(-1, ntokens), targets.view(-1))`. Batches
come from a DataLoader over fixed-length windows, so they are (B, T), and the encoder is built
with batch_first=True to match. Adam with linear warm-up, gradient clipping at 0.5.

    python transformer_lm.py [--bug NAME]

Bugs, as users write them:
  seq-first-encoder   the encoder layer keeps the default batch_first=False (copied from the
                      example, which feeds (T, B)), while the DataLoader gives (B, T): attention
                      then runs across the samples of a batch
"""
import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

BUGS = ("none", "seq-first-encoder")
VOCAB = 48


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=256, batch_first=True):
        super().__init__()
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.batch_first = batch_first
        self.register_buffer("pe", pe)

    def forward(self, x):
        if self.batch_first:
            return x + self.pe[: x.size(1)].unsqueeze(0)
        return x + self.pe[: x.size(0)].unsqueeze(1)


class TransformerModel(nn.Module):
    def __init__(self, ntoken, d_model=32, nhead=4, d_hid=64, nlayers=2, dropout=0.1, batch_first=True):
        super().__init__()
        self.d_model = d_model
        self.encoder = nn.Embedding(ntoken, d_model)
        self.pos_encoder = PositionalEncoding(d_model, batch_first=batch_first)
        layer = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout, batch_first=batch_first)
        self.transformer_encoder = nn.TransformerEncoder(layer, nlayers, enable_nested_tensor=False)
        self.decoder = nn.Linear(d_model, ntoken)
        self.batch_first = batch_first

    def forward(self, src):
        length = src.size(1) if self.batch_first else src.size(0)
        mask = nn.Transformer.generate_square_subsequent_mask(length)
        x = self.pos_encoder(self.encoder(src) * math.sqrt(self.d_model))
        return self.decoder(self.transformer_encoder(x, mask=mask, is_causal=True))


def make_windows(count, length, generator):
    """Sequences of a noisy counting language: each token is the previous + 1 or + 2 (mod V)."""
    steps = torch.randint(1, 3, (count, length + 1), generator=generator)
    start = torch.randint(0, VOCAB, (count, 1), generator=generator)
    tokens = (start + steps.cumsum(dim=1)) % VOCAB
    return tokens[:, :-1], tokens[:, 1:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    inputs, targets = make_windows(960, 24, generator)
    train = DataLoader(TensorDataset(inputs[:800], targets[:800]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(inputs[800:], targets[800:]), batch_size=80)
    model = TransformerModel(VOCAB, batch_first=args.bug != "seq-first-encoder")
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    warmup = 10
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup))
    for epoch in range(args.epochs):
        model.train()
        for data, target in train:
            optimizer.zero_grad()
            output = model(data)
            loss = F.cross_entropy(output.view(-1, VOCAB), target.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
            scheduler.step()
        model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for data, target in val:
                output = model(data)
                total += F.cross_entropy(output.view(-1, VOCAB), target.reshape(-1), reduction="sum").item()
                count += target.numel()
        print(f"epoch {epoch}: train loss {loss.item():.3f}  val loss {total / count:.3f}  "
              f"val ppl {math.exp(total / count):.2f}")


if __name__ == "__main__":
    main()
