"""A Flax NNX classifier on synthetic blobs, with bugs to switch on.

    python examples/jax/nnx_classifier.py                  # healthy
    nndoctor run examples/jax/nnx_classifier.py --bug lr-high
    python examples/jax/nnx_classifier.py --bug bf16 --preflight
    nndoctor run --preflight examples/jax/nnx_classifier.py --bug bf16

Bugs: lr-high (SGD at lr=30), bf16 (matrix products in bfloat16), reused-dropout-key (one
key passed to dropout at every step), nan-log (log of a ReLU output that is 0),
frozen (jax.lax.stop_gradient cuts the first layer off from the loss).
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

BUGS = ("lr-high", "bf16", "reused-dropout-key", "nan-log", "frozen")


class Classifier(nnx.Module):
    def __init__(self, features: int, classes: int, bug: str | None, rngs: nnx.Rngs) -> None:
        dtype = jnp.bfloat16 if bug == "bf16" else None
        self.bug = bug
        self.hidden = nnx.Linear(features, 64, dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(0.2, rngs=rngs)
        self.head = nnx.Linear(64, classes, dtype=dtype, rngs=rngs)

    def __call__(self, x: jax.Array, dropout_key: jax.Array | None = None) -> jax.Array:
        h = nnx.relu(self.hidden(x))
        if self.bug == "frozen":
            h = jax.lax.stop_gradient(h)
        if self.bug == "nan-log":
            h = jnp.log(h)  # log(0) = -inf for every inactive unit
        return self.head(self.dropout(h, rngs=dropout_key))


def make_data(n: int = 512, features: int = 16, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (classes, features))
    labels = rng.integers(0, classes, n)
    x = centres[labels] + rng.normal(0, 1.0, (n, features))
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32), labels.astype(np.int32)  # standardised, as usual


def loss_fn(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--preflight", action="store_true", help="run nndoctor.jax.preflight first")
    args = parser.parse_args()
    x, y = make_data()
    model = Classifier(x.shape[1], int(y.max()) + 1, args.bug, nnx.Rngs(0))
    tx = optax.sgd(30.0) if args.bug == "lr-high" else optax.adam(1e-3)
    if args.preflight:
        import nndoctor.jax
        from nndoctor.report.terminal import render_report

        render_report(nndoctor.jax.preflight(model, None, (x[:32], y[:32]), loss_fn, tx, steps=100))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    fixed_key = jax.random.key(42)

    @nnx.jit
    def train_step(model: Classifier, optimizer: nnx.Optimizer, xb: jax.Array, yb: jax.Array) -> jax.Array:
        key = fixed_key if args.bug == "reused-dropout-key" else None
        loss, grads = nnx.value_and_grad(lambda m: loss_fn(m(xb, key), yb))(model)
        optimizer.update(model, grads)
        return loss

    batch = 32
    for step in range(args.steps):
        start = (step * batch) % (len(x) - batch)
        loss = train_step(model, optimizer, x[start:start + batch], y[start:start + batch])
        if step % 100 == 0:
            print(f"step {step}: loss {float(loss):.4f}")
    model.eval()
    accuracy = float((model(x).argmax(-1) == y).mean())
    print(f"final loss {float(loss):.4f}, training accuracy {accuracy:.1%}")


if __name__ == "__main__":
    main()
