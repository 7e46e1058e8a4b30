"""Checks that could not run say why, in words a user can act on."""
import torch
import torch.nn as nn
import torch.nn.functional as F

import nndoctor


def test_missing_validation_loss_and_activations_are_explained():
    torch.manual_seed(0)
    model = nn.Linear(4, 1)  # no activation functions, no evaluation pass
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 4), torch.randn(64, 1)
    with nndoctor.watch(model, optimizer, live=False) as doctor:
        for _ in range(30):
            optimizer.zero_grad()
            F.mse_loss(model(x), y).backward()
            optimizer.step()
    reasons = {s.rule: s.reason for s in doctor.report.checks_skipped}
    assert "ReLU, tanh or sigmoid" in reasons["dead-relu"]
    # nndoctor's own computation of the expected initial loss is not a validation loss.
    assert "doctor.log(val_loss=...)" in reasons["overfitting"]
