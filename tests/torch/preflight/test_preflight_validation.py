"""Bad input gives one clear line naming what was expected; crashing experiments become
internal-error findings."""
import pytest
import torch
import torch.nn as nn

import nndoctor
import nndoctor.torch.preflight.api as api
from nndoctor.core import UsageError
from preflight_tiny_models import MLP, N, classification_batch


def one_line(error):
    return "\n" not in str(error.value)


@pytest.mark.parametrize("model, batch, loss_fn, match", [
    ("not a model", classification_batch(), nn.CrossEntropyLoss(), "expects a torch.nn.Module"),
    (MLP(), classification_batch()[0], nn.CrossEntropyLoss(), r"pair \(inputs, targets\)"),
    (MLP(), (*classification_batch(), 1), nn.CrossEntropyLoss(), "of length 3"),
    (MLP(), (torch.randn(N, 12), torch.randint(0, 4, (N + 1,))), nn.CrossEntropyLoss(), r"expected targets of shape \(16, ...\)"),
    (MLP(), (torch.randn(0, 12), torch.randint(0, 4, (0,))), nn.CrossEntropyLoss(), "batch is empty"),
    (MLP(), ("text", torch.zeros(N)), nn.CrossEntropyLoss(), "inputs must be a tensor"),
    (MLP(), classification_batch(), nn.CrossEntropyLoss(reduction="none"), "must return a scalar, got a tensor of shape"),
    (MLP(), classification_batch(), lambda out, y: 1.0, "must return a scalar tensor, got float"),
    (MLP(), classification_batch(), "loss", "loss_fn to be callable"),
    (MLP(), (torch.randn(N, 12), torch.rand(N)), nn.CrossEntropyLoss(), "loss_fn.*raised RuntimeError"),
    (MLP(), (torch.randn(N, 7), torch.randint(0, 4, (N,))), nn.CrossEntropyLoss(), r"model\(inputs\).*raised RuntimeError"),
    (MLP(), (torch.randn(N, 12), torch.randint(0, 4, (N,), device="meta")), nn.CrossEntropyLoss(), "targets are on meta but the model is on cpu"),
])
def test_bad_input_is_one_clear_line(model, batch, loss_fn, match):
    with pytest.raises(UsageError, match=match) as error:
        nndoctor.preflight(model, batch, loss_fn)
    assert one_line(error)


def test_bad_optimizer_and_options():
    model = MLP()
    with pytest.raises(UsageError, match="torch.optim.Optimizer"):
        nndoctor.preflight(model, classification_batch(), nn.CrossEntropyLoss(), optimizer="adam")
    with pytest.raises(UsageError, match="positive int"):
        nndoctor.preflight(model, classification_batch(), nn.CrossEntropyLoss(), steps=0)


def test_crashing_experiment_becomes_internal_error(monkeypatch):
    def crash(bench, m):
        raise RuntimeError("boom")

    function, provides, needs = api.EXPERIMENTS["batch_mixing"]
    monkeypatch.setitem(api.EXPERIMENTS, "batch_mixing", (crash, provides, needs))
    report = nndoctor.preflight(MLP(), classification_batch(), nn.CrossEntropyLoss(),
                                select=["batch-mixing", "frozen-params"])
    faults = [f for f in report.findings if f.rule == "internal-error"]
    assert len(faults) == 1 and "batch_mixing" in faults[0].message and "boom" in faults[0].message
    assert "frozen-params" in report.checks_run
    assert [s.rule for s in report.checks_skipped] == ["batch-mixing"]


def test_model_that_cannot_be_copied_skips_training_checks_with_a_reason():
    class HoldsAGenerator(MLP):
        def __init__(self):
            super().__init__()
            self.handle = (line for line in ["not copyable"])

    report = nndoctor.preflight(HoldsAGenerator(), classification_batch(), nn.CrossEntropyLoss(),
                                select=["cannot-overfit-batch", "invalid-output"])
    assert "invalid-output" in report.checks_run
    reasons = {s.rule: s.reason for s in report.checks_skipped}
    assert "cannot be deep-copied" in reasons["cannot-overfit-batch"]
