"""nndoctor.jax.watch: the optax wrapper's measurements, judged by the unchanged dynamics rules."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import nndoctor.jax
from nndoctor.core.errors import UsageError
from nndoctor.core.measurements import problems
from tests.jax.models import NnxClassifier, blobs, cross_entropy

X, Y = blobs(n=256)


def _train(tx, *, bug=None, steps=120, val_every=20):
    model = NnxClassifier(bug=bug)
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    @nnx.jit
    def step(model, optimizer, xb, yb):
        loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(xb), yb))(model)
        optimizer.update(model, grads)
        return loss

    for i in range(steps):
        start = (i * 32) % 224
        loss = step(model, optimizer, X[start:start + 32], Y[start:start + 32])
        tx.log(loss=loss, opt_state=optimizer.opt_state)
        if i % val_every == val_every - 1:
            model.eval()
            tx.log(val_loss=cross_entropy(model(X[224:]), Y[224:]))
            model.train()
    return tx.report()


@pytest.fixture(scope="module")
def healthy():
    tx = nndoctor.jax.watch(optax.adam(1e-3), every=5, mode="callback", live=False)
    return tx, _train(tx)


def test_healthy_training_has_no_findings(healthy):
    _, report = healthy
    assert report.findings == []
    assert {"loss-diverging", "loss-not-decreasing", "exploding-gradients", "vanishing-gradients",
            "update-ratio-high", "update-ratio-low", "non-finite", "overfitting", "no-gradient"} <= set(report.checks_run)
    skipped = {s.rule: s.reason for s in report.checks_skipped}
    assert "not activations" in skipped["dead-relu"]


def test_measurements_conform_and_name_the_leaves(healthy):
    tx, _ = healthy
    m = tx.doctor.measurements()
    assert problems(m) == []
    assert set(m["grad_norm_per_layer"]) == {"hidden/kernel", "hidden/bias", "head/kernel", "head/bias"}
    assert set(m["update_ratio_per_layer"]) == {"hidden/kernel", "head/kernel"}
    assert m["grad_norm_global"]["count"] == 24  # every 5th of 120 updates
    assert m["loss_series"]["count"] == 120 and m["eval_loss_series"]["count"] == 6


def test_aux_mode_records_the_same_statistics(healthy):
    callback_tx, _ = healthy
    aux_tx = nndoctor.jax.watch(optax.adam(1e-3), every=5, mode="aux", live=False)
    _train(aux_tx)
    ours = aux_tx.doctor.measurements()["grad_norm_per_layer"]["head/kernel"]["head"]
    theirs = callback_tx.doctor.measurements()["grad_norm_per_layer"]["head/kernel"]["head"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


def test_a_learning_rate_far_too_high_is_found():
    report = _train(nndoctor.jax.watch(optax.sgd(30.0), every=5, live=False))
    assert {"non-finite", "update-ratio-high"} <= {f.rule for f in report.findings}
    non_finite = next(f for f in report.findings if f.rule == "non-finite")
    assert non_finite.severity == "error" and "optax.clip_by_global_norm" in " ".join(non_finite.fixes)
    assert not any("torch" in text for f in report.findings for text in f.fixes + f.causes + [f.message])


def test_a_leaf_cut_off_by_stop_gradient_is_found():
    report = _train(nndoctor.jax.watch(optax.adam(1e-3), every=5, live=False), bug="frozen", steps=40)
    finding = next(f for f in report.findings if f.rule == "no-gradient")
    assert set(finding.where) == {"hidden/kernel", "hidden/bias"}


def test_at_defaults_the_sampled_update_rules_still_judge_a_few_hundred_updates():
    from nndoctor.jax.optax_watch import DEFAULT_EVERY

    healthy = nndoctor.jax.watch(optax.adam(1e-3), live=False)
    assert healthy.doctor.every == DEFAULT_EVERY
    assert _train(healthy, steps=240, val_every=40).findings == []
    assert healthy.doctor.measurements()["grad_norm_global"]["count"] == 240 // DEFAULT_EVERY
    # Diverged within 16 updates, before a second sample: told from the losses alone.
    too_high = _train(nndoctor.jax.watch(optax.sgd(30.0), live=False), steps=240)
    non_finite = next(f for f in too_high.findings if f.rule == "non-finite")
    assert "diverged first" in non_finite.message and "learning rate" in non_finite.causes[0]
    assert "update-ratio-high" in {f.rule for f in _train(nndoctor.jax.watch(optax.sgd(5.0), live=False),
                                                           steps=240).findings}
    frozen = _train(nndoctor.jax.watch(optax.adam(1e-3), live=False), bug="frozen", steps=240)
    assert "no-gradient" in {f.rule for f in frozen.findings}


def test_works_inside_an_optax_chain_and_with_plain_params():
    tx = nndoctor.jax.watch(optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1)), every=1, mode="callback",
                            live=False)
    params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    state = tx.init(params)

    @jax.jit
    def step(params, state, x):
        grads = jax.grad(lambda p: jnp.mean((x @ p["w"] + p["b"]) ** 2))(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for _ in range(3):
        params, state = step(params, state, jnp.ones((4, 3)))
    report = tx.report()
    m = tx.doctor.measurements()
    assert m["grad_norm_global"]["count"] == 3 and set(m["weight_norm_per_layer"]) == {"w", "b"}
    assert report.context["framework"] == "jax"


def test_aux_mode_without_the_state_says_what_to_pass():
    tx = nndoctor.jax.watch(optax.adam(1e-3), every=5, live=False)
    model = NnxClassifier()
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    for _ in range(3):
        loss, grads = nnx.value_and_grad(lambda m: cross_entropy(m(X[:32]), Y[:32]))(model)
        optimizer.update(model, grads)
        tx.log(loss=loss)
    skipped = {s.rule: s.reason for s in tx.report().checks_skipped}
    assert "opt_state=" in skipped["exploding-gradients"]


def test_bad_arguments_are_usage_errors():
    with pytest.raises(UsageError, match="GradientTransformation"):
        nndoctor.jax.watch("adam")
    with pytest.raises(UsageError, match="every"):
        nndoctor.jax.watch(optax.adam(1e-3), every=0)
    with pytest.raises(UsageError, match="mode"):
        nndoctor.jax.watch(optax.adam(1e-3), mode="sometimes")


def test_the_declared_capability_covers_what_the_wrapper_hands_over(healthy):
    from nndoctor.core.measurements import SCHEMA
    from nndoctor.jax.doctor import CAPABILITY

    tx, _ = healthy
    m = tx.doctor.measurements()
    assert set(m) | set(m.unavailable) <= CAPABILITY.produces <= set(SCHEMA)


class _Pending:
    """A logged loss whose step is still running (is_ready() False) until released."""

    def __init__(self, value):
        self.value, self.done = value, False

    def is_ready(self):
        return self.done

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype)


def test_logging_never_waits_for_a_loss_still_being_computed():
    from nndoctor.jax.doctor import PENDING_LOSSES_FACTOR, JaxDoctor

    doctor = JaxDoctor(every=5, live=False)
    losses = [_Pending(1.0 / (i + 1)) for i in range(40)]
    for loss in losses[:5]:
        loss.done = True
    for loss in losses[:10]:
        doctor.log(loss=loss)
    # The ready losses were read in step order; the running ones are kept, not waited for.
    assert doctor.recorder.measurements()["loss_series"]["count"] == 5
    assert len(doctor._pending_losses) == 5
    for loss in losses[5:8]:
        loss.done = True
    doctor.log(loss=losses[10])
    assert doctor.recorder.measurements()["loss_series"]["count"] == 8
    # Losses never computed are kept at most PENDING_LOSSES_FACTOR × every, then read anyway.
    for loss in losses[11:]:
        doctor.log(loss=loss)
    assert len(doctor._pending_losses) < PENDING_LOSSES_FACTOR * 5
    assert doctor.finish().context["steps_observed"] == 40
    assert doctor.recorder.measurements()["loss_series"]["count"] == 40


def test_an_update_whose_result_is_dropped_is_found():
    tx = nndoctor.jax.watch(optax.sgd(0.1), every=2, mode="callback", live=False)
    params = {"w": jnp.ones((4, 3)), "b": jnp.zeros((3,))}
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean((x @ p["w"] + p["b"] - y) ** 2))(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    x, y = jnp.asarray(np.random.default_rng(0).normal(size=(16, 4)), jnp.float32), jnp.zeros((16, 3))
    for _ in range(12):
        _, _, loss = step(params, opt_state, x, y)  # the new params and state are dropped
        tx.log(loss=loss)
    finding = next(f for f in tx.report().findings if f.rule == "params-not-updated")
    assert finding.evidence["cause"] == "update_discarded" and set(finding.where) == {"w", "b"}
    assert "step count never advanced" in finding.message

