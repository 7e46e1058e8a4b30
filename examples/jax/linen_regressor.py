"""A Flax Linen regressor (TrainState, jax.jit, jax.value_and_grad) on a synthetic curve,
with bugs to switch on.

    python examples/jax/linen_regressor.py                     # healthy
    nndoctor run examples/jax/linen_regressor.py --bug reused-dropout-key
    python examples/jax/linen_regressor.py --bug bf16 --preflight

Bugs: lr-high (Adam at lr=3), bf16 (matrix products in bfloat16), reused-dropout-key
(the same key for dropout at every step), nan-log (a log-scale feature of a ReLU output
that is 0), frozen (jax.lax.stop_gradient cuts the first layer off from the loss).
"""
from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training import train_state

BUGS = ("lr-high", "bf16", "reused-dropout-key", "nan-log", "frozen")


class Regressor(nn.Module):
    bug: str | None = None

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        dtype = jnp.bfloat16 if self.bug == "bf16" else None
        h = nn.relu(nn.Dense(64, dtype=dtype)(x))
        if self.bug == "frozen":
            h = jax.lax.stop_gradient(h)
        if self.bug == "nan-log":
            h = jnp.log(h)  # log(0) = -inf for every inactive unit
        h = nn.Dropout(0.1, deterministic=not train)(h)
        h = nn.relu(nn.Dense(64, dtype=dtype)(h))
        return nn.Dense(1, dtype=dtype)(h)


def make_data(n: int = 512, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 3)).astype(np.float32)
    y = np.sin(x[:, :1] * 2) + 0.5 * x[:, 1:2] * x[:, 2:3] + rng.normal(0, 0.05, (n, 1))
    return x, y.astype(np.float32)


def loss_fn(predictions: jax.Array, targets: jax.Array) -> jax.Array:
    return optax.squared_error(predictions, targets).mean()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bug", choices=BUGS)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--preflight", action="store_true", help="run nndoctor.jax.preflight first")
    args = parser.parse_args()
    x, y = make_data()
    model = Regressor(bug=args.bug)
    variables = model.init(jax.random.key(0), x[:2])
    tx = optax.adam(3.0 if args.bug == "lr-high" else 1e-3)
    state = train_state.TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx)
    if args.preflight:
        import nndoctor.jax
        from nndoctor.report.terminal import render_report

        render_report(nndoctor.jax.preflight(model, state, (x[:32], y[:32]), loss_fn, steps=100))

    @jax.jit
    def train_step(state: train_state.TrainState, xb: jax.Array, yb: jax.Array, key: jax.Array):
        def objective(params):
            predictions = state.apply_fn({"params": params}, xb, train=True, rngs={"dropout": key})
            return loss_fn(predictions, yb)

        loss, grads = jax.value_and_grad(objective)(state.params)
        return state.apply_gradients(grads=grads), loss

    key = jax.random.key(1)
    fixed_key = jax.random.key(2)
    batch = 64
    for step in range(args.steps):
        key, dropout_key = jax.random.split(key)
        if args.bug == "reused-dropout-key":
            dropout_key = fixed_key
        start = (step * batch) % (len(x) - batch)
        state, loss = train_step(state, x[start:start + batch], y[start:start + batch], dropout_key)
        if step % 100 == 0:
            print(f"step {step}: loss {float(loss):.4f}")
    print(f"final training loss {float(loss):.4f}")


if __name__ == "__main__":
    main()
