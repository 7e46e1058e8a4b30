import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.batchnorm_small_batch import BatchNormSmallBatch
from nndoctor.torch.architecture import measure_architecture


def cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))


def measured(model, batch, **options):
    m = Measurements()
    measure_architecture(model, torch.randn(batch, 3, 8, 8), None, m, **options)
    return m


def test_batchnorm_with_batch_of_8_warns():
    [finding] = BatchNormSmallBatch().check(measured(cnn(), 8))
    assert (finding.rule, finding.severity) == ("batchnorm-small-batch", "warning")
    assert finding.evidence["batch_size"] == 8 and finding.evidence["threshold"] == 32
    assert finding.where == ["1 (BatchNorm2d)"]


def test_batch_of_64_or_no_batchnorm_is_healthy():
    assert BatchNormSmallBatch().check(measured(cnn(), 64)) == []
    plain = nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(2, 8), nn.ReLU())
    assert BatchNormSmallBatch().check(measured(plain, 4)) == []


def test_declared_training_batch_size_wins_over_the_preflight_batch():
    assert BatchNormSmallBatch().check(measured(cnn(), 8, batch_size=128)) == []
    [finding] = BatchNormSmallBatch().check(measured(cnn(), 64, batch_size=16))
    assert finding.evidence["batch_size_source"] == "the training batch size"


def test_frozen_batchnorm_uses_running_statistics_and_is_not_judged():
    model = cnn()
    model[1].eval()
    assert BatchNormSmallBatch().check(measured(model, 4)) == []


def test_threshold_at_32():
    assert BatchNormSmallBatch().check(measured(cnn(), 32)) == []
    assert len(BatchNormSmallBatch().check(measured(cnn(), 31))) == 1
