"""Tiny Flax models and data shared by the JAX tests (each compiles in well under a second)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax import nnx


def blobs(n: int = 32, features: int = 8, classes: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, (classes, features))
    labels = rng.integers(0, classes, n)
    x = centres[labels] + rng.normal(0, 1.0, (n, features))
    return ((x - x.mean(0)) / x.std(0)).astype(np.float32), labels.astype(np.int32)  # standardised, as usual


def curve(n: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, (n, 3)).astype(np.float32)
    return x, (np.sin(2 * x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype(np.float32)


def cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def squared_error(predictions, targets):
    return optax.squared_error(predictions, targets).mean()


class NnxClassifier(nnx.Module):
    """features → 32 → classes, with dropout; `bug` switches one mistake on."""

    def __init__(self, features: int = 8, classes: int = 4, bug: str | None = None, seed: int = 0) -> None:
        rngs = nnx.Rngs(seed)
        self.bug = bug
        dtype = jnp.bfloat16 if bug == "bf16" else jnp.float32
        self.hidden = nnx.Linear(features, 32, param_dtype=dtype, rngs=rngs)
        self.dropout = nnx.Dropout(0.1, rngs=rngs)
        self.head = nnx.Linear(32, classes, param_dtype=dtype, rngs=rngs)

    def __call__(self, x):
        if self.bug == "batch-mixing":
            x = x - x.mean(0)  # normalises over the batch: every sample depends on the others
        if self.bug == "nondeterministic":
            x = x + np.float32(np.random.default_rng().normal())  # OS entropy, frozen into each trace
        h = nnx.relu(self.hidden(x))
        if self.bug == "frozen":
            h = jax.lax.stop_gradient(h)
        logits = self.head(self.dropout(h))
        return nnx.softmax(logits) if self.bug == "softmax-output" else logits


class LinenRegressor(nn.Module):
    """3 → 32 (BatchNorm, ReLU) → 1."""

    bug: str | None = None

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = nn.Dense(32)(x)
        if self.bug == "dropout-before-batchnorm":
            h = nn.Dropout(0.2, deterministic=not train)(h)
        h = nn.relu(nn.BatchNorm(use_running_average=not train)(h))
        return nn.Dense(1)(h)
