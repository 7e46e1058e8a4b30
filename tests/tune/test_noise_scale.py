"""The gradient noise scale: the framework-free estimator on synthetic gradients, and the
torch measurement against a brute-force per-example reference (tr Σ and |G|² exact over
the whole data set) on three small models."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import nndoctor.tune as tune
from nndoctor.core.errors import UsageError
from nndoctor.torch.preflight.snapshot import StateSnapshot
from nndoctor.tune.gradient_noise import simple_noise_scale
from tune_tasks import blobs, mlp


def synthetic(true_g2=1.0, trace=50.0, dims=200, groups=16, micro=8, b_small=4, seed=0):
    """Micro-batch gradients g = G + noise with covariance (trace/dims)·I / b_small."""
    rng = np.random.default_rng(seed)
    g = np.zeros(dims)
    g[0] = np.sqrt(true_g2)
    sums, squares = [], []
    for _ in range(groups):
        noise = rng.normal(0, np.sqrt(trace / dims / b_small), size=(micro, dims))
        grads = g + noise
        sums.append(grads.sum(0))
        squares.append(float((grads ** 2).sum()))
    sums = np.asarray(sums)
    return (sums @ sums.T).tolist(), squares, [micro] * groups


def test_estimator_is_unbiased_on_synthetic_gradients():
    values = [simple_noise_scale(*synthetic(seed=s), b_small=4).b_simple for s in range(40)]
    assert np.mean(values) == pytest.approx(50.0, rel=0.1)
    one = simple_noise_scale(*synthetic(seed=0), b_small=4)
    assert one.standard_error is not None and 0 < one.standard_error < one.b_simple
    assert one.trace_sigma == pytest.approx(50.0, rel=0.3)


def test_no_signal_gives_no_number():
    result = simple_noise_scale(*synthetic(true_g2=0.0, seed=1), b_small=4)
    assert result.b_simple is None or result.b_simple > 1e3


def brute_force(model, batches):
    """tr(Σ) over per-example gradients and |G|² of the full-data gradient, exactly
    (one backward per example)."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for x, y in batches:
        for i in range(len(x)):
            loss = nn.functional.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
            rows.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).double())
    flat = torch.stack(rows)
    mean = flat.mean(0)
    return float(((flat - mean) ** 2).sum(1).mean() / (mean @ mean))


class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv, self.head = nn.Conv2d(1, 4, 3, padding=1), nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x.view(-1, 1, 2, 4))).mean((2, 3)))


class TinyRNN(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn, self.head = nn.RNN(2, 8, batch_first=True), nn.Linear(8, 3)

    def forward(self, x):
        out, _ = self.rnn(x.view(-1, 4, 2))
        return self.head(out[:, -1])


@pytest.mark.parametrize("make", [mlp, TinyCNN, TinyRNN], ids=["mlp", "cnn", "rnn"])
def test_within_2x_of_the_brute_force_reference(make):
    model = make()
    data = blobs(n=512, seed=2)
    data = [(torch.cat([a[0], b[0]]), torch.cat([a[1], b[1]])) for a, b in zip(data[::2], data[1::2])]  # batches of 32
    result = tune.noise_scale(model, data, nn.functional.cross_entropy, max_batches=16)
    reference = brute_force(model, data)
    assert result.b_simple is not None
    assert 0.5 <= result.b_simple / reference <= 2.0, (result.b_simple, reference)
    assert result.small_batch == 4 and result.big_batch == 512


def test_state_restored_and_bad_input():
    model = mlp()
    snapshot = StateSnapshot.capture(model, None)
    tune.noise_scale(model, blobs(), nn.functional.cross_entropy)
    assert snapshot.differences() == []
    with pytest.raises(UsageError, match="micro batches"):
        tune.noise_scale(model, [(torch.randn(2, 8), torch.zeros(2, dtype=torch.long))] * 3,
                         nn.functional.cross_entropy)
    with pytest.raises(UsageError, match="micro_batches"):
        tune.noise_scale(model, blobs(), nn.functional.cross_entropy, micro_batches=1)
