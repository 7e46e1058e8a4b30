"""A character-level LSTM language model with linear learning-rate warm-up and gradient clipping.

The loop of pytorch/examples word_language_model (batchify into (T, B) columns, truncated
backprop through time with the hidden state detached between chunks, `clip_grad_norm_`,
`output.view(-1, ntokens)` against `targets.view(-1)`), with AdamW and the linear
warm-up-then-decay schedule of transformers' `get_linear_schedule_with_warmup`, written with
LambdaLR. The text is synthetic: a small random grammar of repeated "words".

    python char_lm_warmup.py [--bug NAME]

Bugs, as users write them:
  clip-1e-9        clip_grad_norm_(..., 1e-9): every update is below float32 resolution
  steplr-per-batch StepLR(step_size=2, gamma=0.5) meant per epoch, stepped every batch
"""
import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "clip-1e-9", "steplr-per-batch")


def make_text(length, generator):
    alphabet = "abcdefghijklmnop "
    words = ["".join(alphabet[i] for i in torch.randint(0, 16, (int(n),), generator=generator))
             for n in torch.randint(2, 6, (40,), generator=generator)]
    text = []
    while len(text) < length:
        text.extend(words[int(torch.randint(0, 40, (1,), generator=generator))] + " ")
    return torch.tensor([alphabet.index(c) for c in text[:length]]), len(alphabet)


def batchify(data, batch_size):
    columns = data.size(0) // batch_size
    return data[: columns * batch_size].view(batch_size, -1).t().contiguous()


class RNNModel(nn.Module):
    def __init__(self, ntokens, ninp=32, nhid=64, nlayers=2, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntokens, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntokens)
        self.nhid, self.nlayers = nhid, nlayers

    def forward(self, tokens, hidden):
        emb = self.drop(self.encoder(tokens))
        output, hidden = self.rnn(emb, hidden)
        return self.decoder(self.drop(output)), hidden

    def init_hidden(self, batch_size):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, batch_size, self.nhid),
                weight.new_zeros(self.nlayers, batch_size, self.nhid))


def repackage_hidden(h):
    return tuple(v.detach() for v in h)


def linear_warmup(warmup_steps, total_steps):
    def factor(step):
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return factor


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--bptt", type=int, default=20)
    parser.add_argument("--clip", type=float, default=0.25)
    args = parser.parse_args()
    torch.manual_seed(1111)
    generator = torch.Generator().manual_seed(1111)
    text, ntokens = make_text(12000, generator)
    train_data = batchify(text[:10000], 16)
    val_data = batchify(text[10000:], 8)
    model = RNNModel(ntokens)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.01)
    steps_per_epoch = len(range(0, train_data.size(0) - 1, args.bptt))
    total = steps_per_epoch * args.epochs
    if args.bug == "steplr-per-batch":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    else:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, linear_warmup(total // 10, total))
    clip = 1e-9 if args.bug == "clip-1e-9" else args.clip

    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = model.init_hidden(16)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            seq_len = min(args.bptt, train_data.size(0) - 1 - i)
            data, targets = train_data[i:i + seq_len], train_data[i + 1:i + 1 + seq_len].reshape(-1)
            hidden = repackage_hidden(hidden)
            optimizer.zero_grad()
            output, hidden = model(data, hidden)
            loss = F.cross_entropy(output.view(-1, ntokens), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            scheduler.step()
        model.eval()
        total_loss, hidden = 0.0, model.init_hidden(8)
        with torch.no_grad():
            for i in range(0, val_data.size(0) - 1, args.bptt):
                seq_len = min(args.bptt, val_data.size(0) - 1 - i)
                data, targets = val_data[i:i + seq_len], val_data[i + 1:i + 1 + seq_len].reshape(-1)
                output, hidden = model(data, hidden)
                total_loss += seq_len * F.cross_entropy(output.view(-1, ntokens), targets).item()
        val_loss = total_loss / (val_data.size(0) - 1)
        print(f"epoch {epoch}: lr {optimizer.param_groups[0]['lr']:.2e}  train loss {loss.item():.3f}  "
              f"val loss {val_loss:.3f}  val ppl {math.exp(val_loss):.2f}")


if __name__ == "__main__":
    main()
