"""Fixtures of the records tests: a records file of the test's own, and tiny training scripts."""
import textwrap

import pytest


@pytest.fixture()
def records_db(tmp_path, monkeypatch):
    """NNDOCTOR_RECORDS pointed at this test's own database (the suite turns recording off)."""
    path = tmp_path / "records" / "runs.db"
    monkeypatch.setenv("NNDOCTOR_RECORDS", str(path))
    return path


# Linear regression on inputs of scale 6 with SGD: the loss's curvature is λ ≈ 2·36 = 72, so
# lr 0.01 (lr·λ = 0.72 < 2) converges and 10× that (7.2 > 2) grows ~6× a step until it overflows.
TRAIN_SCRIPT = """
    import sys
    import torch
    from torch import nn

    lr = float(sys.argv[1])
    torch.manual_seed(0)
    x = 6 * torch.randn(512, 8)
    y = x @ torch.randn(8, 1) + 0.1 * torch.randn(512, 1)
    model = nn.Linear(8, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for step in range(60):
        start = (step * 64) % 512
        loss = nn.functional.mse_loss(model(x[start:start + 64]), y[start:start + 64])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
"""


@pytest.fixture()
def train_script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(TRAIN_SCRIPT))
    return path
