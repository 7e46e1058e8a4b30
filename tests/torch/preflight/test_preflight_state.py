"""Preflight leaves everything bit-identical: parameters, buffers, gradients, optimizer
state, train/eval flags, RNG states and the input tensors."""
import random

import numpy as np
import pytest
import torch
import torch.nn as nn

import nndoctor
from nndoctor.torch.preflight.snapshot import StateSnapshot
from preflight_tiny_models import CNN, MLP, TinyTransformer, classification_batch, image_batch, token_batch


def trained(model, batch, optimizer, steps=3):
    for _ in range(steps):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()
        optimizer.step()
    return model


class EditsItsInput(nn.Module):
    """A forward that modifies its input in place and draws from every global RNG."""

    def __init__(self):
        super().__init__()
        self.inner = MLP()

    def forward(self, x):
        x.mul_(1.0001)
        random.random()
        np.random.rand()
        return self.inner(x + 0 * torch.rand(1))


@pytest.mark.parametrize("make", [
    lambda: (CNN(), image_batch()),
    lambda: (TinyTransformer(), token_batch()),
    lambda: (EditsItsInput(), classification_batch()),
], ids=["cnn-batchnorm", "transformer-dropout", "edits-input"])
def test_everything_is_restored(make):
    torch.manual_seed(0)
    model, batch = make()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if not isinstance(model, EditsItsInput):
        trained(model, batch, optimizer)  # optimizer state and BatchNorm statistics exist
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(batch[0]), batch[1]).backward()  # leave gradients behind
    list(model.modules())[1].eval()  # a mixed train/eval state
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    expected_draws = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    snapshot = StateSnapshot.capture(model, optimizer, *batch)
    report = nndoctor.preflight(model, batch, nn.CrossEntropyLoss(), optimizer)
    assert report.checks_run
    assert snapshot.differences() == []
    assert (random.random(), np.random.rand()) == expected_draws[:2]
    assert torch.equal(torch.rand(1), expected_draws[2])


def test_differences_names_what_changed_and_restore_fixes_it():
    model = MLP()
    x, y = classification_batch()
    optimizer = torch.optim.Adam(model.parameters())
    snapshot = StateSnapshot.capture(model, optimizer, x, y)
    trained(model, (x, y), optimizer, steps=1)
    model.eval()
    x.add_(1)
    torch.rand(1)
    changed = snapshot.differences()
    for expected in ("parameter net.0.weight", "gradient of net.0.weight", "train/eval flag of MLP",
                     "input tensor #0", "optimizer state", "torch RNG state"):
        assert expected in changed
    snapshot.restore()
    assert snapshot.differences() == []


def test_state_is_restored_when_the_user_model_raises():
    class Fails(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(12, 4)

        def forward(self, x):
            raise ValueError("bad input")

    model = Fails()
    x, y = classification_batch()
    snapshot = StateSnapshot.capture(model, None, x, y)
    with pytest.raises(nndoctor.UsageError):
        nndoctor.preflight(model, (x, y), nn.CrossEntropyLoss())
    assert snapshot.differences() == []
