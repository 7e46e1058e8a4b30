"""nndoctor.jax.preflight on healthy Flax models (no warnings) and on usage errors."""
from __future__ import annotations

import jax
import numpy as np
import optax
import pytest

import nndoctor.jax
from nndoctor.core.errors import UsageError
from nndoctor.core.measurements import problems
from tests.jax.models import LinenRegressor, NnxClassifier, blobs, cross_entropy, curve, squared_error


def _preflight_capturing(monkeypatch, *args, **kwargs):
    import nndoctor.core.capability as capability

    seen = []
    original = capability.run_rules
    monkeypatch.setattr(capability, "run_rules", lambda m, rules, **kw: (seen.append(m), original(m, rules, **kw))[1])
    return nndoctor.jax.preflight(*args, **kwargs), seen[0]


@pytest.fixture(scope="module")
def nnx_healthy():
    mp = pytest.MonkeyPatch()
    try:
        yield _preflight_capturing(mp, NnxClassifier(), None, blobs(), cross_entropy, optax.adam(1e-3))
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def linen_healthy():
    x, y = curve()
    model = LinenRegressor()
    variables = model.init(jax.random.key(0), x)
    mp = pytest.MonkeyPatch()
    try:
        yield _preflight_capturing(mp, model, variables, (x, y), squared_error, optax.sgd(0.05, momentum=0.9))
    finally:
        mp.undo()


@pytest.mark.parametrize("name", ["nnx_healthy", "linen_healthy"])
def test_healthy_models_get_no_warnings(name, request):
    report, _ = request.getfixturevalue(name)
    assert [f for f in report.findings if f.severity in ("error", "warning")] == []
    assert {"cannot-overfit-batch", "ignores-input", "no-gradient", "params-not-updated", "batch-mixing",
            "nondeterministic", "invalid-output", "low-precision", "dropout-with-normalization"} <= set(report.checks_run)


@pytest.mark.parametrize("name", ["nnx_healthy", "linen_healthy"])
def test_measurements_conform_to_the_schema(name, request):
    _, measurements = request.getfixturevalue(name)
    assert problems(measurements) == []
    assert measurements["framework"] == "jax"
    from nndoctor.core.measurements import SCHEMA
    from nndoctor.jax.experiments.api import CAPABILITY

    assert set(measurements) | set(measurements.unavailable) <= CAPABILITY.produces <= set(SCHEMA)


def test_healthy_classifier_measurements(nnx_healthy):
    _, m = nnx_healthy
    assert m["initial_loss"]["loss"] == "cross_entropy" and m["initial_loss"]["n_classes"] == 4
    assert m["initial_loss"]["expected"] == pytest.approx(np.log(4))
    reference = [r for r in m["overfit"]["runs"] if r["reference"] and r["data"] == "batch"][0]
    assert reference["final"] < 0.1 * reference["initial"]
    assert m["batch_mixing"]["worst_ratio"] == 0.0
    assert m["determinism"]["bitwise_identical"]
    assert {row["name"] for row in m["parameter_status"]} == {"hidden/kernel", "hidden/bias", "head/kernel", "head/bias"}
    assert all(row["changed"] for row in m["parameter_status"])
    assert m["loss_calls"][0]["input_source"] == "raw"


def test_linen_batchnorm_is_seen_and_the_train_flag_used(linen_healthy):
    _, m = linen_healthy
    assert [layer["kind"] for layer in m["dropout_normalization"]["normalization"]] == ["batch"]
    assert m["batchnorm_layers"][0]["batch_size"] == 32
    assert m["initial_loss"]["loss"] == "mse"


def test_user_arguments_are_checked_in_one_line():
    x, y = blobs()
    with pytest.raises(UsageError, match="Flax nnx.Module or linen.Module"):
        nndoctor.jax.preflight(object(), None, (x, y), cross_entropy)
    with pytest.raises(UsageError, match="same number of samples"):
        nndoctor.jax.preflight(NnxClassifier(), None, (x, y[:5]), cross_entropy)
    with pytest.raises(UsageError, match="optax GradientTransformation"):
        nndoctor.jax.preflight(NnxClassifier(), None, (x, y), cross_entropy, optimizer="adam")
    with pytest.raises(UsageError, match="unknown preflight option"):
        nndoctor.jax.preflight(NnxClassifier(), None, (x, y), cross_entropy, step=3)
    with pytest.raises(UsageError, match="loss_fn"):
        nndoctor.jax.preflight(NnxClassifier(), None, (x, y), lambda out, t: out.sum(1))


def test_the_users_model_is_left_untouched():
    model = NnxClassifier()
    before = [np.asarray(leaf).copy() for leaf in jax.tree_util.tree_leaves(model.hidden.kernel.value)]
    x, y = blobs()
    nndoctor.jax.preflight(model, None, (x, y), cross_entropy, optax.sgd(0.1), steps=10, select=["code"])
    after = [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(model.hidden.kernel.value)]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
