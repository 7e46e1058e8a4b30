"""pytorch/examples time_sequence_prediction: two LSTMCells unrolled in Python, trained with LBFGS.

The model and loop of that example (LSTMCell(1, 51) -> LSTMCell(51, 51) -> Linear, float64,
MSELoss, `optim.LBFGS(seq.parameters(), lr=0.8)` with the default max_iter=20, a closure that
zero-grads, forwards and backwards, and a no_grad prediction of the future after each step),
shrunk to run in seconds: 24 sine waves of 200 steps instead of 100 of 1000, hidden size 21.

    python lstmcell_lbfgs_sine.py [--steps N] [--length T] [--hidden H]
"""
import argparse

import torch
from torch import nn


class Sequence(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for _ in range(future):
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        return torch.cat(outputs, dim=1)


def sine_waves(count, length, period=20):
    """generate_sine_wave.py of the example: shifted sines, one per row."""
    x = torch.arange(length).double() + torch.randint(-4 * period, 4 * period, (count, 1)).double()
    return torch.sin(x / period)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--length", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=21)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = sine_waves(24, args.length)
    input, target = data[3:, :-1], data[3:, 1:]
    test_input, test_target = data[:3, :-1], data[:3, 1:]
    seq = Sequence(args.hidden).double()
    criterion = nn.MSELoss()
    optimizer = torch.optim.LBFGS(seq.parameters(), lr=0.8)
    for i in range(args.steps):
        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            loss.backward()
            return loss
        loss = optimizer.step(closure)
        with torch.no_grad():
            future = 50
            pred = seq(test_input, future=future)
            test_loss = criterion(pred[:, :-future], test_target)
        print(f"step {i}: loss {loss.item():.5f}  test loss {test_loss.item():.5f}")


if __name__ == "__main__":
    main()
