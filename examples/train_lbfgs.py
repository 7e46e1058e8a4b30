"""A small network fitted to a noisy 1-D curve by full-batch L-BFGS.

L-BFGS needs a closure: `optimizer.step(closure)` calls it several times per step (line
search), and each call zeroes the gradients, recomputes the loss and calls backward.
`--bug` injects one fault:

  broadcast               MSE compares a (N, 1) prediction with a (N,) target
  missing-from-optimizer  the output layer is left out of the optimizer
  detach                  the hidden features are detached: the first layer never learns

    nndoctor run examples/train_lbfgs.py --bug broadcast
"""
import argparse

import torch
import torch.nn.functional as F
from torch import nn

BUGS = ("none", "broadcast", "missing-from-optimizer", "detach")


class CurveNet(nn.Module):
    def __init__(self, detach: bool) -> None:
        super().__init__()
        self.hidden = nn.Linear(1, 32)
        self.out = nn.Linear(32, 1)
        self.detach = detach

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = torch.tanh(self.hidden(x))
        return self.out(features.detach() if self.detach else features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--steps", type=int, default=15)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(0)
    inputs = torch.linspace(-2, 2, 256).unsqueeze(1)
    targets = torch.sin(3 * inputs[:, 0]) + 0.05 * torch.randn(256, generator=generator)

    model = CurveNet(detach=args.bug == "detach")
    params = model.hidden.parameters() if args.bug == "missing-from-optimizer" else model.parameters()
    optimizer = torch.optim.LBFGS(params, lr=0.5, max_iter=10, history_size=10,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        prediction = model(inputs)
        if args.bug != "broadcast":
            prediction = prediction.squeeze(-1)
        loss = F.mse_loss(prediction, targets)
        loss.backward()
        return loss

    for step in range(args.steps):
        loss = optimizer.step(closure)
        if step % 5 == 0 or step == args.steps - 1:
            print(f"step {step}: loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
