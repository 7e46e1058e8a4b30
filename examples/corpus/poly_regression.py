"""pytorch/examples regression/main.py (commit 77f55b9): fit a degree-4 polynomial with one
nn.Linear on features [x, x^2, x^3, x^4] of normal draws, smooth_l1_loss, parameters updated by
hand (`param.data.add_(-0.1 * param.grad)`) until the loss is below 1e-3. Unchanged but for a
seed (upstream draws unseeded), a bound on the batches (upstream loops until it converges, so a
broken run would never end) and `--bug`.

    python poly_regression.py [--bug NAME]

Bugs, as users write them:
  no-zero-grad   fc.zero_grad() left out: every update uses the sum of all gradients so far
  lr-100x        param.data.add_(-10 * param.grad)
"""
import argparse
from itertools import count

import torch
import torch.nn.functional as F

BUGS = ("none", "no-zero-grad", "lr-100x")
parser = argparse.ArgumentParser()
parser.add_argument("--bug", choices=BUGS, default="none")
parser.add_argument("--max-batches", type=int, default=2000)
args = parser.parse_args()
torch.manual_seed(0)

POLY_DEGREE = 4
W_target = torch.randn(POLY_DEGREE, 1) * 5
b_target = torch.randn(1) * 5


def make_features(x):
    """Builds features i.e. a matrix with columns [x, x^2, x^3, x^4]."""
    x = x.unsqueeze(1)
    return torch.cat([x ** i for i in range(1, POLY_DEGREE+1)], 1)


def f(x):
    """Approximated function."""
    return x.mm(W_target) + b_target.item()


def poly_desc(W, b):
    """Creates a string description of a polynomial."""
    result = 'y = '
    for i, w in enumerate(W):
        result += '{:+.2f} x^{} '.format(w, i + 1)
    result += '{:+.2f}'.format(b[0])
    return result


def get_batch(batch_size=32):
    """Builds a batch i.e. (x, f(x)) pair."""
    random = torch.randn(batch_size)
    x = make_features(random)
    y = f(x)
    return x, y


# Define model
fc = torch.nn.Linear(W_target.size(0), 1)

for batch_idx in count(1):
    # Get data
    batch_x, batch_y = get_batch()

    # Reset gradients
    if args.bug != "no-zero-grad":
        fc.zero_grad()

    # Forward pass
    output = F.smooth_l1_loss(fc(batch_x), batch_y)
    loss = output.item()

    # Backward pass
    output.backward()

    # Apply gradients
    for param in fc.parameters():
        param.data.add_(-(10.0 if args.bug == "lr-100x" else 0.1) * param.grad)

    # Stop criterion
    if loss < 1e-3 or batch_idx >= args.max_batches:
        break

print('Loss: {:.6f} after {} batches'.format(loss, batch_idx))
print('==> Learned function:\t' + poly_desc(fc.weight.view(-1), fc.bias))
print('==> Actual function:\t' + poly_desc(W_target.view(-1), b_target))
