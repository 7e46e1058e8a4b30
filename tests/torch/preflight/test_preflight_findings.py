"""Each preflight rule fires on a real tiny model with the bug it describes, and stays
quiet on the corrected model (positive and negative cases on real torch models)."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import nndoctor
from preflight_tiny_models import (
    CNN, MLP, N, LSTMClassifier, TinyTransformer, classification_batch, image_batch, regression_batch,
    sequence_batch, token_batch,
)


def run(rule, model, batch, loss_fn=None, optimizer=None, **options):
    report = nndoctor.preflight(model, batch, loss_fn or nn.CrossEntropyLoss(), optimizer, select=[rule], **options)
    assert rule in report.checks_run, report.checks_skipped
    assert not [f for f in report.findings if f.rule == "internal-error"], report.findings
    return [f for f in report.findings if f.rule == rule]


class Wrapped(nn.Module):
    """An MLP whose forward is changed by `edit(x, out)` to inject one bug."""

    def __init__(self, edit, outputs=4):
        super().__init__()
        self.inner = MLP(outputs=outputs)
        self.edit = edit

    def forward(self, x):
        return self.edit(x, self.inner)


# invalid-output ---------------------------------------------------------------------
def test_invalid_output_nan():
    found = run("invalid-output", Wrapped(lambda x, net: net(x) * torch.log(x[:, :1] - 100)), classification_batch())
    assert found[0].severity == "error" and found[0].evidence["non_finite_count"] > 0


def test_invalid_output_batch_dimension():
    found = run("invalid-output", Wrapped(lambda x, net: net(x).mean(0, keepdim=True)),
                classification_batch(), lambda out, y: out.sum())
    assert found[0].severity == "error" and found[0].evidence["output_shape"] == [1, 4]


def test_invalid_output_constant_even_after_training():
    found = run("invalid-output", Wrapped(lambda x, net: net(x * 0)), classification_batch())
    assert found[0].severity == "warning" and found[0].evidence["relative_spread"] == 0


def test_zero_initialised_head_is_valid_output():
    model = MLP()
    nn.init.zeros_(model.net[3].weight)  # constant at step 0 by design; varies after one update
    assert run("invalid-output", model, classification_batch()) == []


# initial-loss-off -------------------------------------------------------------------
def test_initial_loss_off_for_huge_logits_and_fine_for_default_init():
    model = MLP()
    with torch.no_grad():
        model.net[3].weight.mul_(100)
    found = run("initial-loss-off", model, classification_batch())
    assert found[0].severity == "warning" and found[0].evidence["expected"] == pytest.approx(np.log(4))
    assert found[0].evidence["ratio"] > 1.5
    assert run("initial-loss-off", MLP(), classification_batch()) == []


def test_initial_loss_off_for_unscaled_regression_targets_but_not_standardised_ones():
    x, y = regression_batch()
    model = MLP(outputs=1)
    assert run("initial-loss-off", model, (x, y), nn.MSELoss()) == []
    with torch.no_grad():
        model.net[3].weight.mul_(300)
    found = run("initial-loss-off", model, (x, y), nn.MSELoss())
    assert found and found[0].evidence["loss"] == "mse"


# cannot-overfit-batch -----------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:Using a target size")
def test_cannot_overfit_when_shapes_broadcast_is_a_code_problem():
    x, y = regression_batch()
    model = MLP(outputs=1)
    found = run("cannot-overfit-batch", model, (x, y.view(-1)), nn.MSELoss(), torch.optim.Adam(model.parameters()))
    assert found[0].severity == "error"
    assert "code or architecture" in found[0].message
    assert found[0].evidence["batch_adam"]["progress"] < 0.5


def test_cannot_overfit_with_tiny_learning_rate_is_an_optimizer_problem():
    model = LSTMClassifier()
    found = run("cannot-overfit-batch", model, sequence_batch(), optimizer=torch.optim.SGD(model.parameters(), lr=1e-6))
    assert found[0].severity == "warning" and "learning-rate/optimizer" in found[0].message
    assert found[0].evidence["batch_yours"]["progress"] < 0.1 <= found[0].evidence["batch_adam"]["progress"]


def test_diverging_learning_rate_is_an_optimizer_problem():
    model = CNN()
    found = run("cannot-overfit-batch", model, image_batch(), optimizer=torch.optim.SGD(model.parameters(), lr=1e4))
    assert found[0].severity == "warning" and "diverged" in found[0].message


def test_scheduler_warm_up_from_zero_uses_the_base_learning_rate():
    model = TinyTransformer(dropout=0.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4)
    torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: step / 100)  # lr is 0 at step 0
    assert run("cannot-overfit-batch", model, token_batch(), optimizer=optimizer) == []
    assert run("params-not-updated", model, token_batch(), optimizer=optimizer) == []


# ignores-input --------------------------------------------------------------------------
def test_ignores_input():
    found = run("ignores-input", Wrapped(lambda x, net: net(torch.zeros_like(x))), classification_batch())
    assert found[0].severity == "warning"
    assert found[0].evidence["real_final"] == pytest.approx(found[0].evidence["zero_final"], rel=0.05)
    assert run("ignores-input", TinyTransformer(), token_batch()) == []


# no-gradient / params-not-updated / frozen-params ---------------------------------------
class WithUnusedHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = MLP()
        self.aux_head = nn.Linear(32, 2)  # defined, never called

    def forward(self, x):
        return self.body(x)


def test_no_gradient_names_unused_layer():
    model = WithUnusedHead()
    found = run("no-gradient", model, classification_batch(), optimizer=torch.optim.Adam(model.parameters()))
    assert found[0].severity == "warning"
    assert found[0].evidence["no_gradient"] == ["aux_head.weight", "aux_head.bias"]
    assert run("no-gradient", MLP(), classification_batch()) == []


def test_no_gradient_for_detached_loss_is_an_error():
    found = run("no-gradient", MLP(), classification_batch(),
                lambda out, y: torch.tensor(nn.functional.cross_entropy(out, y).item()))
    assert found[0].severity == "error" and found[0].evidence["loss_detached"] is True


def test_params_not_updated_when_left_out_of_optimizer():
    model = MLP()
    optimizer = torch.optim.SGD(model.net[0].parameters(), lr=0.1)
    found = run("params-not-updated", model, classification_batch(), optimizer=optimizer)
    assert found[0].severity == "error"
    assert found[0].evidence["not_in_optimizer"] == ["net.3.weight", "net.3.bias"]
    assert run("params-not-updated", model, classification_batch(),
               optimizer=torch.optim.SGD(model.parameters(), lr=0.1)) == []


def test_frozen_params_info_and_error_when_everything_is_frozen():
    model = MLP()
    model.net[0].requires_grad_(False)
    found = run("frozen-params", model, classification_batch())
    assert found[0].severity == "info" and found[0].evidence["frozen"] == ["net.0.weight", "net.0.bias"]
    model.requires_grad_(False)
    found = run("frozen-params", model, classification_batch())
    assert found[0].severity == "error"
    assert run("frozen-params", MLP(), classification_batch()) == []


# batch-mixing --------------------------------------------------------------------------------
def test_batch_mixing_transformer_without_batch_first():
    found = run("batch-mixing", TinyTransformer(batch_first=False), token_batch())
    assert found[0].severity == "error" and found[0].evidence["probes"][0]["ratio"] > 1e-3
    assert run("batch-mixing", TinyTransformer(batch_first=True), token_batch()) == []


def test_batch_mixing_lstm_without_batch_first():
    class Misfed(LSTMClassifier):
        def forward(self, x):  # (N, T, F) into an LSTM that expects (T, N, F)
            out, _ = self.lstm(x)
            return self.head(out[:, -1])

    found = run("batch-mixing", Misfed(batch_first=False), sequence_batch())
    assert found[0].severity == "error"


def test_batchnorm_in_train_mode_is_not_batch_mixing():
    model = CNN()
    model.train()
    assert run("batch-mixing", model, image_batch()) == []


# gradient-mismatch -------------------------------------------------------------------------
class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x**2


class WrongCube(Cube):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x**2  # forgot the factor 3


class Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -grad


class WithFunction(nn.Module):
    def __init__(self, function):
        super().__init__()
        self.function = function
        self.first, self.head = nn.Linear(12, 32), nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.function.apply(torch.tanh(self.first(x))))


def with_function(function):
    return WithFunction(function)


def test_gradient_mismatch_wrong_backward():
    found = run("gradient-mismatch", with_function(WrongCube), classification_batch())
    assert found[0].severity == "error" and found[0].evidence["name"] == "WrongCube"
    assert found[0].evidence["relative_error"] > 0.1
    assert run("gradient-mismatch", with_function(Cube), classification_batch()) == []
    assert "apply" not in WrongCube.__dict__  # the recording patch was removed


def test_gradient_reversal_is_noted_not_flagged():
    found = run("gradient-mismatch", with_function(Reverse), classification_batch())
    assert [f.severity for f in found] == ["info"]


# nondeterministic ---------------------------------------------------------------------------
class UnseededNoise(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = MLP()

    def forward(self, x):
        noise = np.random.default_rng().normal(size=x.shape).astype("float32")  # fresh OS entropy
        return self.inner(x + torch.from_numpy(noise))


def test_nondeterministic_unseeded_generator():
    found = run("nondeterministic", UnseededNoise(), classification_batch())
    assert found[0].severity == "warning" and found[0].evidence["max_loss_relative_difference"] > 1e-5


def test_dropout_with_same_seed_is_deterministic():
    assert run("nondeterministic", MLP(dropout=0.5), classification_batch()) == []


class NextTokenModel(nn.Module):
    def __init__(self, causal, vocab=20):
        super().__init__()
        self.causal, self.vocab = causal, vocab
        self.embed = nn.Embedding(vocab, 32)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True), 1, enable_nested_tensor=False)
        self.out = nn.Linear(32, vocab)

    def forward(self, ids):
        mask = nn.Transformer.generate_square_subsequent_mask(ids.shape[1]) if self.causal else None
        return self.out(self.encoder(self.embed(ids), mask=mask, is_causal=self.causal))


def test_batch_mixing_causal_variant_for_next_token_targets():
    ids = torch.randint(0, 20, (N, 9))
    batch = (ids[:, :-1], ids[:, 1:])

    def loss(out, y):
        return nn.functional.cross_entropy(out.reshape(-1, 20), y.reshape(-1))

    found = run("batch-mixing", NextTokenModel(causal=False), batch, loss)
    assert found[0].severity == "error" and "read the answer" in found[0].message
    assert found[0].evidence["causal"]["future_position"] > found[0].evidence["causal"]["position"]
    assert run("batch-mixing", NextTokenModel(causal=True), batch, loss) == []


def huge_logits_mlp():
    model = MLP()
    with torch.no_grad():
        model.net[3].weight.mul_(100)
    return model


@pytest.mark.parametrize("rule, make_model, batch, thresholds", [
    ("initial-loss-off", huge_logits_mlp, classification_batch, {"classification_ratio_high": 1e4}),
    ("invalid-output", lambda: Wrapped(lambda x, net: net(x * 0)), classification_batch, {"relative_spread_min": 0.0}),
    ("ignores-input", lambda: Wrapped(lambda x, net: net(torch.zeros_like(x))), classification_batch, {"improvement_min": -1.0}),
    ("batch-mixing", lambda: TinyTransformer(batch_first=False), token_batch, {"cross_gradient_ratio_max": 1e9}),
    ("gradient-mismatch", lambda: with_function(WrongCube), classification_batch, {"relative_error_max": 10.0}),
    ("nondeterministic", UnseededNoise, classification_batch, {"relative_difference_max": 1e9}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_real_model_finding_respects_threshold(rule, make_model, batch, thresholds):
    assert run(rule, make_model(), batch()) != []
    assert run(rule, make_model(), batch(), thresholds={rule: thresholds}) == []


def test_cannot_overfit_threshold_on_real_model():
    model = LSTMClassifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
    assert run("cannot-overfit-batch", model, sequence_batch(), optimizer=optimizer) != []
    assert run("cannot-overfit-batch", model, sequence_batch(), optimizer=optimizer,
               thresholds={"cannot-overfit-batch": {"user_progress_min": 0.0}}) == []


class Float32Square(torch.autograd.Function):
    """Computes in float32 whatever it is given (a common pattern in fused kernels)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.float() ** 2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (grad * 2 * x.float()).to(x.dtype)


class WrongFloat32Square(Float32Square):
    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return (grad * 3 * x.float()).to(x.dtype)


def test_gradient_check_of_float32_function_uses_low_precision_tolerance():
    assert run("gradient-mismatch", with_function(Float32Square), classification_batch()) == []
    found = run("gradient-mismatch", with_function(WrongFloat32Square), classification_batch())
    assert found[0].severity == "error" and found[0].evidence["precision"] == "low"
