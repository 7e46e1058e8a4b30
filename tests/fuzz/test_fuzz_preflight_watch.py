"""nndoctor.preflight and nndoctor.watch with arguments of any type and shape: a Report or
one clear UsageError line, never a traceback from deep inside (issue 8)."""
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import nndoctor
from nndoctor.core import Report
from nndoctor.core.errors import UsageError

FUZZ = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        raise RuntimeError("the user's forward fails")


def model_of(kind):
    torch.manual_seed(0)
    return {"linear": lambda: nn.Linear(4, 2), "mlp": lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)),
            "raises": Raises, "none": lambda: None, "string": lambda: "model", "int": lambda: 3,
            "no_params": nn.ReLU}[kind]()


def tensor_of(kind, n, width):
    generator = torch.Generator().manual_seed(n * 7 + width)
    if kind == "float":
        return torch.randn(n, width, generator=generator)
    if kind == "nan":
        return torch.full((n, width), math.nan)
    if kind == "int":
        return torch.randint(0, 3, (n, width), generator=generator)
    if kind == "bool":
        return torch.rand(n, width, generator=generator) > 0.5
    if kind == "scalar":
        return torch.tensor(1.0)
    if kind == "list":
        return [[1.0] * width] * n
    return None


def targets_of(kind, n):
    generator = torch.Generator().manual_seed(n)
    return {"classes": lambda: torch.randint(0, 2, (n,), generator=generator),
            "out_of_range": lambda: torch.full((n,), 7), "float": lambda: torch.randn(n, 2, generator=generator),
            "wrong_length": lambda: torch.zeros(n + 1, dtype=torch.long), "none": lambda: None,
            "string": lambda: "y"}[kind]()


LOSSES = {"ce": F.cross_entropy, "mse": F.mse_loss, "not_scalar": lambda out, y: out,
          "float": lambda out, y: 1.0, "not_callable": 3, "raises": lambda out, y: 1 / 0}
OPTION_VALUES = st.one_of(st.integers(-2, 6), st.text(max_size=6), st.none(), st.booleans(),
                          st.lists(st.sampled_from(["dead-relu", "code", "no-such", "dynamics"]), max_size=2),
                          st.dictionaries(st.sampled_from(["dead-relu", "dead-rel", "x"]),
                                          st.dictionaries(st.sampled_from(["dead_share_min", "typo"]),
                                                          st.one_of(st.floats(0, 1), st.text(max_size=3)),
                                                          max_size=2), max_size=2))


def expect_report_or_usage_error(call):
    try:
        result = call()
    except UsageError as error:
        assert "\n" not in str(error) and str(error), repr(error)
        return None
    return result


@FUZZ
@given(st.sampled_from(["linear", "mlp", "raises", "none", "string", "int", "no_params"]),
       st.sampled_from(["float", "nan", "int", "bool", "scalar", "list", "none"]),
       st.integers(0, 5), st.sampled_from([4, 3]),
       st.sampled_from(["classes", "out_of_range", "float", "wrong_length", "none", "string"]),
       st.sampled_from(sorted(LOSSES)), st.sampled_from(["none", "sgd", "string"]),
       st.dictionaries(st.sampled_from(["select", "ignore", "thresholds", "seed", "stepz"]), OPTION_VALUES, max_size=2))
def test_preflight_any_arguments(model_kind, input_kind, n, width, target_kind, loss, optimizer_kind, options):
    model = model_of(model_kind)
    optimizer = {"none": None, "string": "adam",
                 "sgd": torch.optim.SGD(model.parameters(), lr=0.1)
                 if isinstance(model, nn.Module) and list(model.parameters()) else None}[optimizer_kind]
    batch = (tensor_of(input_kind, n, width), targets_of(target_kind, n))
    report = expect_report_or_usage_error(
        lambda: nndoctor.preflight(model, batch, LOSSES[loss], optimizer, steps=5, **options))
    if report is not None:
        assert isinstance(report, Report)
        report.to_json()


@FUZZ
@given(st.sampled_from(["linear", "none", "string"]),
       st.dictionaries(st.sampled_from(["every", "select", "ignore", "thresholds", "stop_on", "live"]),
                       OPTION_VALUES, max_size=3),
       st.sampled_from(["ok", "nan", "no_zero_grad"]),
       st.one_of(st.none(), st.floats(allow_nan=True), st.text(max_size=3), st.integers()))
def test_watch_any_arguments(model_kind, options, loop, val_loss):
    model = model_of(model_kind)
    options = {"live": False, **options}
    trainable = model if isinstance(model, nn.Module) else nn.Linear(4, 2)
    optimizer = torch.optim.SGD(trainable.parameters(), lr=0.1)
    x, y = torch.randn(16, 4), torch.randint(0, 2, (16,))

    def run():
        with nndoctor.watch(model, optimizer, **options) as doctor:
            for _ in range(3):
                if loop != "no_zero_grad":
                    optimizer.zero_grad()
                loss = F.cross_entropy(trainable(x), y) * (math.nan if loop == "nan" else 1.0)
                loss.backward()
                optimizer.step()
            doctor.log(val_loss=val_loss)
        return doctor.report

    report = expect_report_or_usage_error(run)
    if report is not None:
        report.to_json()


@FUZZ
@given(st.sampled_from(["float", "nan", "bool"]), st.integers(1, 6), st.sampled_from(["classes", "out_of_range", "float"]),
       st.sampled_from(["ce", "mse"]), st.dictionaries(st.sampled_from(["select", "ignore", "seed"]), OPTION_VALUES,
                                                       max_size=2))
def test_preflight_well_formed_calls_with_nasty_contents(input_kind, n, target_kind, loss, options):
    model = model_of("mlp")
    before = [p.detach().clone() for p in model.parameters()]
    batch = (tensor_of(input_kind, n, 4).float(), targets_of(target_kind, n))
    report = expect_report_or_usage_error(lambda: nndoctor.preflight(model, batch, LOSSES[loss], steps=5, **options))
    if report is not None:
        report.to_json()
        assert [f.message for f in report.findings if f.rule == "internal-error"] == []
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # nothing left changed
