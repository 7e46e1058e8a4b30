"""The autograd-graph reading behind the loss rules, on real models and losses."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nndoctor.torch.loss_calls import LossCallRecorder, describe_loss_call, input_source

torch.manual_seed(0)
X = torch.randn(8, 5)
LABELS = torch.randint(0, 3, (8,))


def linear(out=3):
    return nn.Linear(5, out)(X)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: linear(), "raw"),
        (lambda: torch.softmax(linear(), dim=1), "softmax"),
        (lambda: nn.Sequential(nn.Linear(5, 3), nn.Softmax(dim=1))(X), "softmax"),
        (lambda: F.log_softmax(linear(), dim=1), "log_softmax"),
        (lambda: torch.sigmoid(linear(1)).squeeze(1), "sigmoid"),
        (lambda: torch.log(torch.softmax(linear(), 1) + 1e-8), "log_probability"),
        (lambda: torch.softmax(linear(), 1).clamp(1e-6, 1.0), "softmax"),
        (lambda: (lambda z: z - z.logsumexp(1, keepdim=True))(linear()), "log_softmax"),
        (lambda: torch.softmax(linear(), 1)[:, :2].reshape(-1), "softmax"),
        (lambda: linear().detach(), "unknown"),
        (lambda: linear().clamp(0, 1), "unknown"),
    ],
)
def test_input_source(make, expected):
    assert input_source(make()) == expected


def test_recorder_sees_module_and_functional_calls_and_restores():
    original = F.cross_entropy
    logits = linear()
    with LossCallRecorder(step=0) as recorder:
        nn.CrossEntropyLoss()(torch.softmax(logits, 1), LABELS)
        F.mse_loss(input=linear(1), target=torch.randn(8))
    assert F.cross_entropy is original
    kinds = [(r["loss"], r["input_source"]) for r in recorder.records]
    assert kinds == [("cross_entropy", "softmax"), ("mse", "raw")]
    assert recorder.records[1]["broadcast_shape"] == [8, 8]
    assert recorder.records[0]["where"].startswith("test_loss_calls.py:")
    assert recorder.calls[0].output.dim() == 0


def test_log_probability_error_is_zero_for_log_softmax():
    record = describe_loss_call("nll", F.log_softmax(linear(), 1), LABELS)
    assert record["log_probability_error"] < 1e-5
    raw = describe_loss_call("nll", linear() * 10, LABELS)
    assert raw["log_probability_error"] > 1.0


def test_where_names_the_users_line_or_the_loss_fn():
    from nndoctor.torch.preflight import preflight

    model = nn.Sequential(nn.Linear(5, 3), nn.Softmax(dim=1))
    report = preflight(model, (X, LABELS), nn.CrossEntropyLoss())
    finding = next(f for f in report.findings if f.rule == "probabilities-to-logit-loss")
    assert finding.where == "your loss_fn"

    def loss_fn(out, y):
        return F.cross_entropy(out, y)

    report = preflight(model, (X, LABELS), loss_fn)
    finding = next(f for f in report.findings if f.rule == "probabilities-to-logit-loss")
    assert finding.where.startswith("test_loss_calls.py:")
