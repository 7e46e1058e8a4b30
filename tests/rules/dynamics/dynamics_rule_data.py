"""Hand-written measurements for the dynamics rules (no torch): series in the exact form
DynamicsMonitor produces, and loss curves of real minibatch SGD (numpy logistic regression)."""
from __future__ import annotations

import math

import numpy as np

from nndoctor.live.series import BoundedSeries, small_series


def series(values, steps=None, *, small: bool = False) -> dict:
    store = small_series() if small else BoundedSeries()
    steps = range(len(values)) if steps is None else steps
    for step, value in zip(steps, values):
        store.add(int(step), float(value))
    return store.to_dict()


def sampled(values, every: int = 10) -> dict:
    """A per-layer series measured on sampled steps 0, every, 2*every, ..."""
    return series(values, [i * every for i in range(len(values))], small=True)


def sgd_losses(steps: int, lr: float = 0.1, batch: int = 8, seed: int = 0, schedule=None,
               label_noise: float = 0.1) -> list[float]:
    """Per-step minibatch losses of real SGD on logistic regression: noisy, decreasing,
    then flat at the noise floor set by the label noise."""
    rng = np.random.default_rng(seed)
    n, d = 2000, 20
    x = rng.normal(size=(n, d))
    true_w = rng.normal(size=d)
    y = (x @ true_w > 0).astype(float)
    flip = rng.random(n) < label_noise
    y[flip] = 1 - y[flip]
    w = np.zeros(d)
    losses = []
    for step in range(steps):
        index = rng.integers(0, n, batch)
        logits = x[index] @ w
        p = 1 / (1 + np.exp(-logits))
        losses.append(float(np.mean(np.logaddexp(0, logits) - y[index] * logits)))
        rate = lr * (schedule(step) if schedule else 1.0)
        w -= rate * x[index].T @ (p - y[index]) / batch
    return losses


def warmup_cosine(steps: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))
    return factor


def zigzag(steps: int, level: float = 1.0, amplitude: float = 0.4, noise: float = 0.05, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [level + amplitude * (-1) ** i + noise * rng.normal() for i in range(steps)]


def softmax_sgd_losses(steps: int, lr: float = 0.1, batch: int = 32, classes: int = 10, seed: int = 0,
                       shuffled: bool = False, class_weights=None, schedule=None, signal: float = 1.0) -> list[float]:
    """Per-step minibatch cross-entropy of real SGD on softmax regression. `shuffled` draws
    the labels independently of the inputs (the loss stays at the label entropy);
    `class_weights` makes the labels imbalanced; `signal` scales how well the inputs
    separate the classes (small: a slow learner)."""
    rng = np.random.default_rng(seed)
    n, d = 2000, 20
    x = rng.normal(size=(n, d))
    centers = rng.normal(size=(classes, d)) * signal
    if class_weights is None:
        y = np.argmax(x @ centers.T + rng.gumbel(size=(n, classes)), axis=1)
    else:
        p = np.asarray(class_weights, dtype=float) / np.sum(class_weights)
        y = rng.choice(classes, size=n, p=p)
    if shuffled:
        y = rng.permutation(y)
    w, b = np.zeros((d, classes)), np.zeros(classes)
    losses = []
    for step in range(steps):
        index = rng.integers(0, n, batch)
        logits = x[index] @ w + b
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        losses.append(float(-np.mean(np.log(probs[np.arange(batch), y[index]]))))
        grad = probs
        grad[np.arange(batch), y[index]] -= 1
        rate = lr * (schedule(step) if schedule else 1.0)
        w -= rate * x[index].T @ grad / batch
        b -= rate * grad.mean(axis=0)
    return losses
