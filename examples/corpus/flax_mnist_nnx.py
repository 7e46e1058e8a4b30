"""google/flax examples/mnist/train.py (NNX, 2026), on synthetic digits instead of tfds.

The training pattern kept as Flax writes it: an nnx.Module CNN with BatchNorm and Dropout,
`nnx.Optimizer(model, optax.sgd(lr, momentum), wrt=nnx.Param)`, a `@nnx.jit` train_step
calling `nnx.value_and_grad(loss_fn, has_aux=True)` and `optimizer.update(model, grads)`
in place, an `nnx.MultiMetric` updated inside jit, `model.train()` / `model.eval()` around
the epochs, and a stateful `nnx.Rngs` for dropout. TensorBoard and the SavedModel export
are left out (no side effects worth testing); the data are 28×28 images of 10 classes, each
class a blurred template plus noise, so the CNN learns in a few epochs on a CPU.

    python flax_mnist_nnx.py [--bug NAME] [--epochs N] [--batch-size B]

Bugs, as users write them:
  lr-100x             optax.sgd(10.0, 0.9): the loss explodes
  fresh-rngs          a new nnx.Rngs(0) passed at every step: dropout draws the same mask
  few-steps           batches of 128 (10 updates an epoch): BatchNorm's running statistics
                      (momentum 0.99) still describe the untrained network when it is
                      evaluated, so the test loss is worse than chance while training reaches 100%
"""
import argparse
from functools import partial

import jax
import numpy as np
import optax
from flax import nnx

BUGS = ("none", "lr-100x", "fresh-rngs", "few-steps")


class CNN(nnx.Module):
    """A simple CNN model."""

    def __init__(self, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(1, 32, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm1 = nnx.BatchNorm(32, rngs=rngs)
        self.dropout1 = nnx.Dropout(rate=0.025)
        self.conv2 = nnx.Conv(32, 64, kernel_size=(3, 3), rngs=rngs)
        self.batch_norm2 = nnx.BatchNorm(64, rngs=rngs)
        self.avg_pool = partial(nnx.avg_pool, window_shape=(2, 2), strides=(2, 2))
        self.linear1 = nnx.Linear(3136, 256, rngs=rngs)
        self.dropout2 = nnx.Dropout(rate=0.025)
        self.linear2 = nnx.Linear(256, 10, rngs=rngs)

    def __call__(self, x, rngs: nnx.Rngs):
        x = self.avg_pool(nnx.relu(self.batch_norm1(self.dropout1(self.conv1(x), rngs=rngs))))
        x = self.avg_pool(nnx.relu(self.batch_norm2(self.conv2(x))))
        x = x.reshape(x.shape[0], -1)  # flatten
        x = nnx.relu(self.dropout2(self.linear1(x), rngs=rngs))
        x = self.linear2(x)
        return x


def loss_fn(model: CNN, batch, rngs):
    logits = model(batch["image"], rngs)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits=logits, labels=batch["label"]).mean()
    return loss, logits


@nnx.jit
def train_step(model: CNN, optimizer: nnx.Optimizer, metrics: nnx.MultiMetric, batch, rngs):
    """Train for a single step."""
    grad_fn = nnx.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(model, batch, rngs)
    metrics.update(loss=loss, logits=logits, labels=batch["label"])  # In-place updates.
    optimizer.update(model, grads)  # In-place updates.


@nnx.jit
def eval_step(model: CNN, metrics: nnx.MultiMetric, batch):
    loss, logits = loss_fn(model, batch, None)
    metrics.update(loss=loss, logits=logits, labels=batch["label"])  # In-place updates.


def synthetic_digits(n: int, seed: int) -> dict[str, np.ndarray]:
    """Ten blurred random templates, each image one of them plus pixel noise, in [0, 1]."""
    templates = np.random.default_rng(1234).random((10, 28, 28))
    for _ in range(3):  # blur: strokes, not salt and pepper
        templates = (templates + np.roll(templates, 1, 1) + np.roll(templates, 1, 2)) / 3
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = templates[labels] + rng.normal(0, 0.15, (n, 28, 28))
    images = (images - images.min()) / (images.max() - images.min())
    return {"image": images[..., None].astype(np.float32), "label": labels.astype(np.int32)}


def batches(data: dict[str, np.ndarray], batch_size: int, rng: np.random.Generator | None):
    """As tf.data's shuffle().batch(drop_remainder=True): dicts of numpy arrays."""
    order = rng.permutation(len(data["label"])) if rng is not None else np.arange(len(data["label"]))
    for start in range(0, len(order) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        yield {k: v[index] for k, v in data.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bug", choices=BUGS, default="none")
    parser.add_argument("--epochs", type=int, default=3)
    # 80 steps an epoch: BatchNorm's running statistics (momentum 0.99) need a few hundred
    # steps to catch up; with 10 an epoch (--batch-size 128) the test accuracy stays near
    # chance in eval mode while the training accuracy reaches 100%.
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    if args.bug == "few-steps":
        args.batch_size = 128
    train_ds, test_ds = synthetic_digits(1280, seed=0), synthetic_digits(256, seed=1)

    model = CNN(rngs=nnx.Rngs(0))
    learning_rate = 10.0 if args.bug == "lr-100x" else 0.1
    optimizer = nnx.Optimizer(model, optax.sgd(learning_rate, 0.9), wrt=nnx.Param)
    metrics = nnx.MultiMetric(accuracy=nnx.metrics.Accuracy(), loss=nnx.metrics.Average("loss"))
    rngs = nnx.Rngs(0)
    shuffle = np.random.default_rng(0)

    for epoch in range(1, args.epochs + 1):
        model.train()  # Switch to train mode
        for batch in batches(train_ds, args.batch_size, shuffle):
            train_step(model, optimizer, metrics, batch, nnx.Rngs(0) if args.bug == "fresh-rngs" else rngs)
        train_metrics = metrics.compute()
        metrics.reset()  # Reset the metrics for the test set.

        model.eval()  # Switch to eval mode
        for batch in batches(test_ds, args.batch_size, None):
            eval_step(model, metrics, batch)
        eval_metrics = metrics.compute()
        metrics.reset()  # Reset the metrics for the next training epoch.
        print(f"epoch: {epoch:3d}, train_loss: {float(train_metrics['loss']):.4f}, "
              f"train_accuracy: {float(train_metrics['accuracy']) * 100:.2f}, "
              f"test_loss: {float(eval_metrics['loss']):.4f}, test_accuracy: {float(eval_metrics['accuracy']) * 100:.2f}")
    jax.block_until_ready(nnx.state(model))


if __name__ == "__main__":
    main()
