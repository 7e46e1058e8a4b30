"""A two-layer LSTM language model on a synthetic token stream, trained with manual SGD.

The style of the classic PyTorch word-language-model example: truncated backpropagation
through time with detached hidden states, `clip_grad_norm_`, and a hand-written update
`p.data.add_(p.grad, alpha=-lr)` instead of an optimizer; evaluation with `model.eval()`
and `torch.no_grad()` each epoch. `--bug` injects one fault:

  no-zero-grad   model.zero_grad() is never called: gradients pile up across updates
  no-eval        evaluation runs with dropout still active
  softmax-ce     the loss receives softmax probabilities
  lr-too-high    a learning rate 100x too large, without clipping

    nndoctor run examples/train_lstm_lm.py --bug no-zero-grad
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "no-zero-grad", "no-eval", "softmax-ce", "lr-too-high")


class LanguageModel(nn.Module):
    def __init__(self, vocab: int, embed: int = 32, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.embed = nn.Embedding(vocab, embed)
        self.rnn = nn.LSTM(embed, hidden, layers, dropout=0.2)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, tokens: torch.Tensor, hidden):
        output, hidden = self.rnn(self.drop(self.embed(tokens)), hidden)
        return self.decoder(self.drop(output)), hidden

    def init_hidden(self, batch: int):
        weight = next(self.parameters())
        shape = (self.rnn.num_layers, batch, self.rnn.hidden_size)
        return weight.new_zeros(shape), weight.new_zeros(shape)


def token_stream(length: int, vocab: int, generator: torch.Generator) -> torch.Tensor:
    """A noisy counting sequence: each token is usually the previous one plus one."""
    steps = torch.where(torch.rand(length, generator=generator) < 0.85, 1,
                        torch.randint(0, vocab, (length,), generator=generator))
    return torch.cumsum(steps, 0) % vocab


def batchify(stream: torch.Tensor, batch: int) -> torch.Tensor:
    usable = stream.numel() // batch * batch
    return stream[:usable].view(batch, -1).t().contiguous()  # (time, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--bptt", type=int, default=20)
    parser.add_argument("--clip", type=float, default=0.25)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    vocab, batch = 50, 16
    train = batchify(token_stream(16_000, vocab, generator), batch)
    valid = batchify(token_stream(4_000, vocab, generator), batch)
    model = LanguageModel(vocab)
    lr = args.lr * (100 if args.bug == "lr-too-high" else 1)

    for epoch in range(args.epochs):
        model.train()
        hidden = model.init_hidden(batch)
        for start in range(0, train.size(0) - 1, args.bptt):
            length = min(args.bptt, train.size(0) - 1 - start)
            inputs, targets = train[start:start + length], train[start + 1:start + 1 + length]
            hidden = tuple(h.detach() for h in hidden)
            if args.bug != "no-zero-grad":
                model.zero_grad()
            output, hidden = model(inputs, hidden)
            logits = output.view(-1, vocab)
            if args.bug == "softmax-ce":
                logits = F.softmax(logits, dim=1)
            loss = F.cross_entropy(logits, targets.reshape(-1))
            loss.backward()
            if args.bug != "lr-too-high":
                torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)

        if args.bug != "no-eval":
            model.eval()
        total, count = 0.0, 0
        hidden = model.init_hidden(batch)
        with torch.no_grad():
            for start in range(0, valid.size(0) - 1, args.bptt):
                length = min(args.bptt, valid.size(0) - 1 - start)
                inputs, targets = valid[start:start + length], valid[start + 1:start + 1 + length]
                output, hidden = model(inputs, hidden)
                total += length * F.cross_entropy(output.view(-1, vocab), targets.reshape(-1)).item()
                count += length
        print(f"epoch {epoch}: train loss {loss.item():.3f}  val loss {total / count:.3f}")


if __name__ == "__main__":
    main()
