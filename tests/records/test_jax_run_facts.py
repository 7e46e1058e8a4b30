"""`nndoctor run` on JAX scripts records what the torch runs record: the optax optimizer
and every setting, clipping, schedules, seeds, the model, and the first batch's shape,
dtype and content hash — read back from the records database after real tiny runs."""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax")
pytest.importorskip("flax")
pytest.importorskip("optax")

from nndoctor.records import schema, store  # noqa: E402
from nndoctor.records.compare import flatten_hyperparameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LINEN_EXAMPLE = ROOT / "examples" / "jax" / "linen_regressor.py"

# Flax NNX, a batch dict passed as an argument, AdamW on a warm-up cosine schedule after
# global-norm clipping, two named Rngs streams, and --data-seed to change the data.
NNX_SCRIPT = """
    import argparse
    import jax, optax
    import numpy as np
    from flax import nnx

    parser = argparse.ArgumentParser()
    parser.add_argument("--data-seed", type=int, default=0)
    data_seed = parser.parse_args().data_seed
    rng = np.random.default_rng(data_seed)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.int32).ravel()

    class Classifier(nnx.Module):
        def __init__(self, rngs):
            self.hidden = nnx.Linear(8, 16, rngs=rngs)
            self.head = nnx.Linear(16, 2, rngs=rngs)

        def __call__(self, x):
            return self.head(nnx.relu(self.hidden(x)))

    model = Classifier(nnx.Rngs(params=0, dropout=1))
    schedule = optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=1e-3, warmup_steps=5, decay_steps=40)
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.05))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

    def loss_fn(model, batch):
        logits = model(batch["x"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()

    @nnx.jit
    def train_step(model, optimizer, batch):
        loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
        optimizer.update(model, grads)
        return loss

    for step in range(30):
        start = (step * 32) % 224
        loss = train_step(model, optimizer, {"x": x[start:start + 32], "y": y[start:start + 32]})
    print(f"final loss {float(loss):.3f}")
"""


def run(tmp_path, script, *args, env_extra=None):
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]), **(env_extra or {}))
    report = tmp_path / "report.json"
    done = subprocess.run([sys.executable, "-m", "nndoctor", "run", "--quiet", "--json", str(report), str(script),
                           *args], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return json.loads(report.read_text()), done


def last_run(path):
    connection = schema.connect(path, readonly=True)
    try:
        return store.load_run(connection, store.resolve(connection, "last"))
    finally:
        connection.close()


def expected(values) -> str:
    """sha256 of the values' bytes, as numpy holds them (all fewer than HASHED_ELEMENTS)."""
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()[:16]


def test_a_linen_run_records_its_optimizer_model_seeds_and_first_batch(tmp_path, records_db, monkeypatch):
    report, _ = run(tmp_path, LINEN_EXAMPLE, "--steps", "20")
    row = last_run(records_db)
    assert row["status"] == "finished" and row["steps"] == 20
    hyper = row["hyperparameters"]
    assert hyper == report["context"]["hyperparameters"]
    [adam] = hyper["optimizers"]
    assert adam["class"] == "adam"
    assert adam["settings"] == {"learning_rate": 0.001, "b1": 0.9, "b2": 0.999, "eps": 1e-08, "eps_root": 0.0,
                                "mu_dtype": None, "nesterov": False}
    # Dense 3→64, 64→64, 64→1 with biases.
    assert hyper["models"] == [{"class": "Regressor", "parameters": 3 * 64 + 64 + 64 * 64 + 64 + 64 + 1,
                                "parameter_arrays": 6}]
    assert hyper["batch_size"] == 64 and hyper["gradient_clipping"] == []
    # The script's own seeds, in order; none of the keys Flax makes inside init.
    assert [(s["call"], s["seed"]) for s in row["seeds"]["seeds"]] == [
        ("numpy.random.default_rng", 0), ("jax.random.key", 0), ("jax.random.key", 1), ("jax.random.key", 2)]
    assert row["seeds"]["jax_enable_x64"] is False
    spec = importlib.util.spec_from_file_location("linen_regressor", LINEN_EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, example)  # Flax's dataclasses look their module up
    spec.loader.exec_module(example)
    x, y = example.make_data()
    batch = row["data_fingerprints"]["first_batch"]
    assert batch["batch_size"] == 64
    assert batch["inputs"] == {  # the loss closure's xb and yb; the dropout key is no batch
        "xb": {"shape": [64, 3], "dtype": "float32", "sha256": expected(x[:64])},
        "yb": {"shape": [64, 1], "dtype": "float32", "sha256": expected(y[:64])}}


def test_an_nnx_run_records_a_chain_with_clipping_and_a_schedule(tmp_path, records_db):
    script = tmp_path / "train_nnx.py"
    script.write_text(textwrap.dedent(NNX_SCRIPT))
    report, done = run(tmp_path, script)
    assert "final loss" in done.stdout
    row = last_run(records_db)
    hyper = row["hyperparameters"]
    [chain] = hyper["optimizers"]  # the clip and adamw are listed inside the chain only
    clip, adamw = chain["settings"]["transformations"]
    assert chain["class"] == "chain" and clip == {"class": "clip_by_global_norm",
                                                  "settings": {"function": "optax.clip_by_global_norm", "max_norm": 1.0}}
    assert adamw["class"] == "adamw"
    assert adamw["settings"]["learning_rate"] == ("warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.001, "
                                                  "warmup_steps=5, decay_steps=40, end_value=0.0, exponent=1.0)")
    assert adamw["settings"]["weight_decay"] == 0.05 and adamw["settings"]["b2"] == 0.999
    assert hyper["gradient_clipping"] == [{"function": "optax.clip_by_global_norm", "max_norm": 1.0}]
    assert hyper["models"] == [{"class": "Classifier", "parameters": 8 * 16 + 16 + 16 * 2 + 2, "parameter_arrays": 4}]
    assert {"call": "flax.nnx.Rngs", "seed": {"params": 0, "dropout": 1}} in row["seeds"]["seeds"]
    flat = flatten_hyperparameters(hyper)  # what compare and export name the settings
    assert flat["optimizer"] == "chain(clip_by_global_norm, adamw)" and flat["weight_decay"] == 0.05
    assert flat["learning_rate"].startswith("warmup_cosine_decay_schedule(")
    assert flat["gradient clipping (clip_by_global_norm) max_norm"] == 1.0 and flat["batch size"] == 32
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (x[:, :1] > 0).astype(np.int32).ravel()
    assert row["data_fingerprints"]["first_batch"] == {"batch_size": 32, "inputs": {
        "batch['x']": {"shape": [32, 8], "dtype": "float32", "sha256": expected(x[:32])},
        "batch['y']": {"shape": [32], "dtype": "int32", "sha256": expected(y[:32])}}}

    # The same script on other data: compare tells the first batches apart.
    run(tmp_path, script, "--data-seed", "1")
    compared = subprocess.run([sys.executable, "-m", "nndoctor", "compare", "last~1", "last"], capture_output=True,
                              text=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), timeout=120)
    assert compared.returncode == 0, compared.stderr
    assert "the first batch differs" in compared.stdout and "the data is identical" not in compared.stdout
    assert "the same versions (python" in compared.stdout and "jax " in compared.stdout


def test_an_unrecorded_jax_run_notes_no_facts(tmp_path):
    """NNDOCTOR_RECORDS=off (the suite's default): nothing is patched for the records."""
    report, _ = run(tmp_path, LINEN_EXAMPLE, "--steps", "5", env_extra={"NNDOCTOR_RECORDS": "off"})
    assert "hyperparameters" not in report["context"] and "data_fingerprints" not in report["context"]
    assert report["context"]["steps_observed"] == 5


@pytest.mark.parametrize("values", [
    np.arange(12, dtype=np.float32).reshape(3, 4), np.array([True, False, True]), np.arange(-5, 5, dtype=np.int8),
    np.linspace(0, 1, 7, dtype=np.float32).astype("bfloat16"), np.arange(3000, dtype=np.int32).reshape(30, 100)])
def test_the_words_sent_from_jit_hash_to_the_bytes_numpy_holds(values):
    """What leaves the traced step (uint32 words) hashes like the first HASHED_ELEMENTS values'
    bytes in numpy, for every width of dtype."""
    import jax

    from nndoctor.jax.run_facts import HASHED_ELEMENTS, leading_words, words_digest

    words = np.asarray(jax.jit(leading_words)(values))
    first = np.ascontiguousarray(values).ravel()[:HASHED_ELEMENTS]
    assert words_digest(words, values.dtype.itemsize) == hashlib.sha256(first.tobytes()).hexdigest()[:16]
