"""`nndoctor run` on unchanged Flax scripts (the examples), in a subprocess as a user runs it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "jax"


def _run(tmp_path, script, *args, preflight=False):
    report = tmp_path / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--quiet", "--json", str(report),
                           *(["--preflight"] if preflight else []), str(EXAMPLES / script), *args],
                          capture_output=True, text=True, env=env, timeout=600)
    return done, json.loads(report.read_text())


def test_a_healthy_linen_script_runs_clean(tmp_path):
    done, report = _run(tmp_path, "linen_regressor.py", "--steps", "150")
    assert done.returncode == 0, done.stderr
    assert report["findings"] == []
    assert report["context"]["framework"] == "jax" and report["context"]["steps_observed"] == 150
    assert report["context"]["series"]["loss"]["count"] == 150 and report["context"]["series"]["grad_norm"]
    assert "loss-diverging" in report["checks_run"] and "dropout-key-reused" in report["checks_run"]
    assert "final training loss" in done.stdout  # the script's own output is untouched


def test_a_reused_dropout_key_is_found(tmp_path):
    done, report = _run(tmp_path, "linen_regressor.py", "--steps", "60", "--bug", "reused-dropout-key")
    assert done.returncode == 1
    finding = next(f for f in report["findings"] if f["rule"] == "dropout-key-reused")
    assert finding["evidence"]["most_uses_of_one_key"] == 60 and "Dropout_0" in finding["where"]


def test_the_first_nan_is_traced_to_the_log_that_made_it(tmp_path):
    done, report = _run(tmp_path, "nnx_classifier.py", "--steps", "30", "--bug", "nan-log")
    assert done.returncode == 1
    finding = next(f for f in report["findings"] if f["rule"] == "non-finite")
    assert finding["step"] == 0
    assert finding["evidence"]["origin"] == "activation"
    assert "`log`" in finding["evidence"]["detail"] and "nnx_classifier.py:" in finding["evidence"]["detail"]
    assert not any("torch" in text for text in finding["fixes"] + finding["causes"])


def test_the_healthy_nnx_example_runs_without_nndoctor():
    done = subprocess.run([sys.executable, str(EXAMPLES / "nnx_classifier.py"), "--steps", "5"], capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert done.returncode == 0, done.stderr


def _final_line(stdout):
    return next(line for line in stdout.splitlines() if line.startswith("final"))


def test_preflight_runs_on_the_first_step_of_a_healthy_nnx_script_and_leaves_training_alone(tmp_path):
    done, report = _run(tmp_path, "nnx_classifier.py", "--steps", "40", preflight=True)
    assert done.returncode == 0, done.stderr
    assert report["findings"] == []
    assert "preflight" not in {s["rule"] for s in report["checks_skipped"]}
    ran = report["context"]["preflight"]["checks_run"]
    assert {"cannot-overfit-batch", "initial-loss-off", "batch-mixing", "low-precision"} <= set(ran)
    assert "initial-loss-off" not in {s["rule"] for s in report["checks_skipped"]}  # the optax loss was seen
    assert report["context"]["steps_observed"] == 40
    plain = subprocess.run([sys.executable, str(EXAMPLES / "nnx_classifier.py"), "--steps", "40"], capture_output=True,
                           text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=300)
    assert _final_line(done.stdout) == _final_line(plain.stdout)  # same training, step for step


def test_preflight_finds_bf16_compute_in_a_linen_script(tmp_path):
    done, report = _run(tmp_path, "linen_regressor.py", "--steps", "20", "--bug", "bf16", preflight=True)
    assert done.returncode == 0, done.stderr  # a note, not a warning
    finding = next(f for f in report["findings"] if f["rule"] == "low-precision")
    assert "bfloat16" in finding["message"]
    assert report["context"]["preflight"]["findings"] >= 1


def test_preflight_says_why_it_did_not_run(tmp_path):
    script = tmp_path / "eager_loop.py"
    script.write_text(
        "import jax, jax.numpy as jnp, optax\n"
        "w = jnp.ones(3)\n"
        "tx = optax.sgd(0.1)\n"
        "state = tx.init(w)\n"
        "for step in range(3):  # no jit: nothing to intercept\n"
        "    loss, g = jax.value_and_grad(lambda p: jnp.sum(p ** 2))(w)\n"
        "    updates, state = tx.update(g, state)\n"
        "    w = optax.apply_updates(w, updates)\n")
    report_path = tmp_path / "report.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--quiet", "--preflight", "--json", str(report_path),
                           str(script)], capture_output=True, text=True, env=env, timeout=300)
    report = json.loads(report_path.read_text())
    skipped = next(s for s in report["checks_skipped"] if s["rule"] == "preflight")
    assert "no jitted training step" in skipped["reason"], done.stderr


CORPUS = ROOT / "examples" / "corpus"
# A Linen train step that computes its metrics with the optax loss after the gradient (as
# Flax's older examples do), and a jitted eval step: only the eval step's losses are
# validation losses.
METRICS_AFTER_GRAD = '''
import jax, jax.numpy as jnp, numpy as np, optax
from flax import linen as nn

x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32)
model = nn.Dense(2)
params = model.init(jax.random.key(0), x)
tx = optax.sgd(0.1)
state = tx.init(params)

@jax.jit
def train_step(params, state):
    def loss_fn(p):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, x), y).mean()
    grads = jax.grad(loss_fn)(params)
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    metric = optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x), y).mean()
    return params, state, metric

@jax.jit
def eval_step(params):
    return optax.softmax_cross_entropy_with_integer_labels(model.apply(params, x[:32]), y[:32]).mean()

for epoch in range(3):
    for _ in range(10):
        params, state, metric = train_step(params, state)
    print("eval", float(eval_step(params)))
'''


def test_validation_losses_come_from_jitted_steps_without_gradients(tmp_path):
    script = tmp_path / "metrics_after_grad.py"
    script.write_text(METRICS_AFTER_GRAD)
    done, report = _run(tmp_path, script)  # an absolute path: EXAMPLES / script is the script itself
    assert done.returncode == 0, done.stderr
    printed = [float(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("eval")]
    context = report["context"]
    assert context["steps_observed"] == 30  # jax.grad once per step (it was counted twice)
    series = context["series"]["val_loss"]
    assert [step for step, _ in series["head"]] == [10, 20, 30]  # one per evaluation, none from the metrics
    assert [round(v, 5) for _, v in series["head"]] == [round(v, 5) for v in printed]


def test_a_nan_after_finite_flax_steps_is_blamed_on_batchnorm_statistics_not_on_the_batch(tmp_path):
    done, report = _run(tmp_path, CORPUS / "flax_mnist_nnx.py", "--bug", "lr-100x", "--batch-size", "64",
                        "--epochs", "1")
    finding = next(f for f in report["findings"] if f["rule"] == "non-finite")
    # Flax's MNIST CNN at lr 10: after finite steps only BatchNorm's running variance is
    # non-finite: not the (finite) input batch, not the validation pass.
    assert finding["evidence"]["origin"] == "statistics", finding
    assert "batch_norm" in finding["where"] and "BatchNorm running statistics" in finding["evidence"]["detail"]
    assert "running statistics (BatchNorm mean/variance) overflowed" in finding["message"]
    assert not any("torch" in text for text in finding["fixes"])
    assert done.returncode == 1
