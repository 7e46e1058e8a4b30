import torch
from torch import nn

from nndoctor.core.rule import Measurements
from nndoctor.rules.architecture.low_precision import LowPrecision
from nndoctor.torch.architecture import measure_architecture


def mlp():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


def measured(model, dtype=torch.float32):
    m = Measurements()
    measure_architecture(model, torch.randn(4, 8, dtype=dtype), None, m)
    return m


def test_half_and_bfloat16_parameters_warn():
    for dtype in (torch.float16, torch.bfloat16):
        [finding] = LowPrecision().check(measured(mlp().to(dtype), dtype))
        assert (finding.rule, finding.severity) == ("low-precision", "warning")
        assert finding.evidence["low_precision_fraction"] == 1.0


def test_autocast_around_preflight_is_a_note():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        m = measured(mlp())
    [finding] = LowPrecision().check(m)
    assert finding.severity == "info" and finding.evidence["autocast"] == ["cpu:bfloat16"]


def test_float32_model_is_healthy():
    assert LowPrecision().check(measured(mlp())) == []


def test_threshold_on_low_precision_fraction():
    m = {"parameter_dtypes": {"numel_by_dtype": {"float32": 144, "bfloat16": 34}, "low_precision_names": []}}
    assert LowPrecision().check(m, low_precision_fraction_max=34 / 178) == []
    assert len(LowPrecision().check(m, low_precision_fraction_max=0.19)) == 1
