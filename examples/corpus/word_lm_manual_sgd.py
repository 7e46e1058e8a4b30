"""A GRU word-level language model updated by hand, as pytorch/examples word_language_model did.

No optimizer object: `model.zero_grad()`, `loss.backward()`, `clip_grad_norm_(…, 0.25)`, then
`p.data.add_(p.grad, alpha=-lr)` for every parameter, with lr 5 (20 in the original, for a model 4x wider) annealed by 4 when the
validation loss stops improving. Tokens come from a synthetic first-order Markov chain over a
60-word vocabulary, batchified into (T, B) columns.

    python word_lm_manual_sgd.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad   model.zero_grad() left out: gradients pile up across batches
  clip-1e-9      clip_grad_norm_(model.parameters(), 1e-9): updates below float32 resolution
"""
import argparse
import math

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "clip-1e-9")
VOCAB = 60


def markov_tokens(length, generator):
    successors = torch.randint(0, VOCAB, (VOCAB, 3), generator=generator)
    tokens = [0]
    for choice in torch.randint(0, 3, (length - 1,), generator=generator).tolist():
        tokens.append(int(successors[tokens[-1], choice]))
    return torch.tensor(tokens)


def batchify(data, batch_size):
    columns = data.size(0) // batch_size
    return data[: columns * batch_size].view(batch_size, -1).t().contiguous()


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp=32, nhid=48, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.GRU(ninp, nhid)
        self.decoder = nn.Linear(nhid, ntoken)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, tokens, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(tokens)), hidden)
        return self.decoder(self.drop(output)), hidden


def get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].reshape(-1)


def evaluate(model, source, bptt):
    model.eval()
    total = 0.0
    hidden = torch.zeros(1, source.size(1), 48)
    with torch.no_grad():
        for i in range(0, source.size(0) - 1, bptt):
            data, targets = get_batch(source, i, bptt)
            output, hidden = model(data, hidden)
            total += len(data) * F.cross_entropy(output.view(-1, VOCAB), targets).item()
    return total / (len(source) - 1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    # pytorch/examples uses lr 20 for a 200-unit model; 5 is its equivalent at this size
    parser.add_argument("--lr", type=float, default=5.0)
    parser.add_argument("--bptt", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(1111)
    generator = torch.Generator().manual_seed(1111)
    tokens = markov_tokens(9000, generator)
    train_data, val_data = batchify(tokens[:8000], 20), batchify(tokens[8000:], 10)
    model = RNNModel(VOCAB)
    clip = 1e-9 if args.bug == "clip-1e-9" else 0.25
    lr, best_val = args.lr, None
    for epoch in range(1, args.epochs + 1):
        model.train()
        hidden = torch.zeros(1, 20, 48)
        for i in range(0, train_data.size(0) - 1, args.bptt):
            data, targets = get_batch(train_data, i, args.bptt)
            hidden = hidden.detach()
            if args.bug != "no-zero-grad":
                model.zero_grad()
            output, hidden = model(data, hidden)
            loss = F.cross_entropy(output.view(-1, VOCAB), targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
        val_loss = evaluate(model, val_data, args.bptt)
        print(f"epoch {epoch}: lr {lr:.2f}  valid loss {val_loss:.3f}  valid ppl {math.exp(val_loss):.1f}")
        if best_val is None or val_loss < best_val:
            best_val = val_loss
        else:
            lr /= 4.0


if __name__ == "__main__":
    main()
