"""probabilities-to-logit-loss, logits-to-probability-loss, loss-broadcasting:
pure rule tests on records, plus the same judgement on real loss calls."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from nndoctor.rules.code.logits_to_probability_loss import LogitsToProbabilityLoss
from nndoctor.rules.code.loss_broadcasting import LossBroadcasting
from nndoctor.rules.code.probabilities_to_logit_loss import ProbabilitiesToLogitLoss
from nndoctor.torch.loss_calls import LossCallRecorder


def call(loss, source, shape=(8, 3), target=(8,), broadcast=None, error=None, where="train.py:10"):
    return {"loss": loss, "input_source": source, "input_shape": list(shape),
            "target_shape": list(target), "broadcast_shape": broadcast, "step": 4,
            "where": where, "log_probability_error": error}


def recorded(fn):
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    with LossCallRecorder(step=0) as recorder:
        fn(model(torch.randn(16, 5)), torch.randint(0, 3, (16,)))
    return {"loss_calls": recorder.records}


# probabilities-to-logit-loss
def test_softmax_into_cross_entropy_fires():
    findings = ProbabilitiesToLogitLoss().check({"loss_calls": [call("cross_entropy", "softmax")] * 3})
    assert len(findings) == 1  # one per call site
    assert findings[0].severity == "error" and findings[0].step == 4
    assert findings[0].evidence["input_source"] == "softmax"


def test_logits_and_log_softmax_into_cross_entropy_are_fine():
    m = {"loss_calls": [call("cross_entropy", "raw"), call("cross_entropy", "log_softmax")]}
    assert ProbabilitiesToLogitLoss().check(m) == []


def test_real_calls_probabilities_to_logit_loss():
    bad = recorded(lambda out, y: F.cross_entropy(torch.softmax(out, 1), y))
    assert [f.rule for f in ProbabilitiesToLogitLoss().check(bad)] == ["probabilities-to-logit-loss"]
    sigmoid_bce = recorded(lambda out, y: nn.BCEWithLogitsLoss()(torch.sigmoid(out), torch.ones_like(out)))
    assert len(ProbabilitiesToLogitLoss().check(sigmoid_bce)) == 1
    good = recorded(lambda out, y: nn.CrossEntropyLoss(label_smoothing=0.1)(out, y))
    assert ProbabilitiesToLogitLoss().check(good) == []


# logits-to-probability-loss
def test_raw_logits_into_nll_fires_with_deviation():
    findings = LogitsToProbabilityLoss().check({"loss_calls": [call("nll", "raw", error=4.2)]})
    assert findings[0].rule == "logits-to-probability-loss"
    assert findings[0].evidence["log_probability_error"] == 4.2


def test_log_probability_tolerance_threshold():
    rule = LogitsToProbabilityLoss()
    just_above = {"loss_calls": [call("nll", "raw", error=1.1e-3)]}
    at = {"loss_calls": [call("nll", "raw", error=1e-3)]}
    assert len(rule.check(just_above)) == 1
    assert rule.check(at) == []


def test_real_calls_logits_to_probability_loss():
    rule = LogitsToProbabilityLoss()
    assert len(rule.check(recorded(lambda out, y: F.nll_loss(out, y)))) == 1
    assert len(rule.check(recorded(lambda out, y: F.nll_loss(torch.softmax(out, 1), y)))) == 1
    bce_good = recorded(lambda out, y: F.binary_cross_entropy(out.sigmoid(), torch.ones_like(out)))
    assert rule.check(bce_good) == []
    no_graph = recorded(lambda out, y: F.nll_loss(out.detach(), y))
    assert rule.check(no_graph) == []  # no graph: source unknown, stays silent
    assert rule.check(recorded(lambda out, y: F.nll_loss(F.log_softmax(out, 1), y))) == []
    assert rule.check(recorded(lambda out, y: F.nll_loss(out - out.logsumexp(1, keepdim=True), y))) == []
    kl = recorded(lambda out, y: F.kl_div(F.log_softmax(out, 1), torch.full_like(out, 1 / 3), reduction="batchmean"))
    assert rule.check(kl) == []


def test_raw_scores_into_bce_fire():
    head = nn.Linear(5, 1)
    nn.init.zeros_(head.weight)
    nn.init.constant_(head.bias, 0.5)  # raw scores that happen to lie in [0, 1]: BCELoss accepts them
    with LossCallRecorder() as recorder:
        F.binary_cross_entropy(head(torch.randn(8, 5)), torch.ones(8, 1))
    findings = LogitsToProbabilityLoss().check({"loss_calls": recorder.records})
    assert [f.evidence["input_source"] for f in findings] == ["raw"]


# loss-broadcasting
def test_n1_against_n_fires():
    m = {"loss_calls": [call("mse", "raw", shape=(64, 1), target=(64,), broadcast=[64, 64])]}
    finding = LossBroadcasting().check(m)[0]
    assert finding.severity == "error"
    assert finding.evidence["expansion_factor"] == 64


def test_broadcast_threshold():
    at_two = {"loss_calls": [call("mse", "raw", shape=(2, 1), target=(2,), broadcast=[2, 2])]}
    one = {"loss_calls": [call("mse", "raw", shape=(1, 1), target=(1,), broadcast=[1, 1])]}
    assert len(LossBroadcasting().check(at_two)) == 1
    assert LossBroadcasting().check(one) == []


def test_real_calls_broadcasting():
    torch.manual_seed(0)
    head = nn.Linear(5, 1)
    x, y = torch.randn(32, 5), torch.randn(32)
    with LossCallRecorder() as recorder:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.mse_loss(head(x), y)
        F.mse_loss(head(x).squeeze(-1), y)
        F.l1_loss(head(x), y.view(-1, 1))
    findings = LossBroadcasting().check({"loss_calls": recorder.records})
    assert len(findings) == 1
    assert findings[0].evidence["broadcast_shape"] == [32, 32]
