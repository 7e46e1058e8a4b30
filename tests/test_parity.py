"""One table of bugs, both frameworks: the same rules fire on the torch and the Flax version
of each bug, and neither fires on the healthy version."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("jax")
pytest.importorskip("flax")
import optax  # noqa: E402
from flax import nnx  # noqa: E402
from torch import nn  # noqa: E402

import nndoctor  # noqa: E402
import nndoctor.jax  # noqa: E402
from tests.jax.models import NnxClassifier, blobs, cross_entropy  # noqa: E402

X, Y = blobs(n=32)
LIVE_X, LIVE_Y = blobs(n=256)


class TorchClassifier(nn.Module):
    """The torch twin of tests.jax.models.NnxClassifier, with the same bug switches."""

    def __init__(self, bug: str | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.bug = bug
        self.hidden, self.dropout, self.head = nn.Linear(8, 32), nn.Dropout(0.1), nn.Linear(32, 4)
        if bug == "bf16":
            self.to(torch.bfloat16)

    def forward(self, x):
        x = x.to(self.hidden.weight.dtype)
        if self.bug == "batch-mixing":
            x = x - x.mean(0)
        if self.bug == "nondeterministic":
            x = x + float(np.random.default_rng().normal())  # OS entropy: no seed controls it
        h = torch.relu(self.hidden(x))
        if self.bug == "frozen":
            h = h.detach()
        logits = self.head(self.dropout(h))
        return torch.softmax(logits, 1) if self.bug == "softmax-output" else logits


# bug → (rules that must fire in both, torch optimizer factory, optax optimizer)
PREFLIGHT_BUGS = {
    None: (set(), lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "frozen": ({"no-gradient"}, lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "batch-mixing": ({"batch-mixing"}, lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "softmax-output": ({"probabilities-to-logit-loss"}, lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "nondeterministic": ({"nondeterministic"}, lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "bf16": ({"low-precision"}, lambda p: torch.optim.Adam(p, 1e-3), optax.adam(1e-3)),
    "lr-high": ({"cannot-overfit-batch"}, lambda p: torch.optim.SGD(p, lr=200.0), optax.sgd(200.0)),
}


def _fired(report) -> set[str]:
    return {f.rule for f in report.findings if f.severity in ("error", "warning", "info")} - {"internal-error"}


def _torch_preflight(bug):
    model = TorchClassifier(None if bug == "lr-high" else bug)
    _, make_optimizer, _ = PREFLIGHT_BUGS[bug]
    return nndoctor.preflight(model, (torch.tensor(X), torch.tensor(Y, dtype=torch.long)), nn.CrossEntropyLoss(),
                              make_optimizer(model.parameters()), steps=100)


def _jax_preflight(bug):
    model = NnxClassifier(bug=None if bug == "lr-high" else bug)
    return nndoctor.jax.preflight(model, None, (X, Y), cross_entropy, PREFLIGHT_BUGS[bug][2], steps=100)


@pytest.mark.parametrize("bug", list(PREFLIGHT_BUGS), ids=lambda b: b or "healthy")
def test_preflight_parity(bug):
    expected = PREFLIGHT_BUGS[bug][0]
    torch_rules, jax_rules = _fired(_torch_preflight(bug)), _fired(_jax_preflight(bug))
    assert expected <= torch_rules, ("torch", torch_rules)
    assert expected <= jax_rules, ("jax", jax_rules)
    if bug is None:
        assert torch_rules == set() and jax_rules == set()


def _torch_live(bug, lr):
    model = TorchClassifier(bug)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.tensor(LIVE_X), torch.tensor(LIVE_Y, dtype=torch.long)
    with nndoctor.watch(model, optimizer, every=5, live=False) as doctor:
        for step in range(100):
            start = (step * 32) % 224
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[start:start + 32]), y[start:start + 32])
            loss.backward()
            optimizer.step()
    return doctor.report


def _jax_live(bug, lr):
    model = NnxClassifier(bug=bug)
    tx = nndoctor.jax.watch(optax.sgd(lr), every=5, live=False)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, xb, yb):
        loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(xb), yb))(model)
        optimizer.update(model, grads)
        return loss

    for i in range(100):
        start = (i * 32) % 224
        tx.log(loss=step(model, optimizer, LIVE_X[start:start + 32], LIVE_Y[start:start + 32]),
               opt_state=optimizer.opt_state)
    return tx.report()


LIVE_BUGS = {
    "healthy": (None, 0.1, set()),
    "lr-high": (None, 30.0, {"non-finite", "update-ratio-high"}),
    "frozen": ("frozen", 0.1, {"no-gradient"}),
}


@pytest.mark.parametrize("name", list(LIVE_BUGS))
def test_live_parity(name):
    bug, lr, expected = LIVE_BUGS[name]
    torch_rules, jax_rules = _fired(_torch_live(bug, lr)), _fired(_jax_live(bug, lr))
    assert expected <= torch_rules, ("torch", torch_rules)
    assert expected <= jax_rules, ("jax", jax_rules)
    if not expected:
        assert torch_rules == set() and jax_rules == set()
