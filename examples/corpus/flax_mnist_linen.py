"""google/flax examples/mnist/train.py as it was written for Linen (flax ≤ 0.8), on synthetic digits.

The pattern kept as that example writes it: a Linen CNN, `train_state.TrainState.create(
apply_fn=cnn.apply, params=params, tx=optax.sgd(lr, momentum))`, a jitted `apply_model`
that takes `jax.value_and_grad(loss_fn, has_aux=True)` and returns (grads, loss, accuracy),
a separate jitted `update_model` calling `state.apply_gradients(grads=grads)`, and — the
part that trips tools — the *test set* evaluated with the same `apply_model`: its
gradients are computed and thrown away, so a test loss comes out of a step that takes a
gradient and never updates. The data are flax_mnist_nnx.py's synthetic digits.

    python flax_mnist_linen.py [--epochs N] [--bug NAME]

Bugs, as users write them:
  lr-100x      optax.sgd(10.0, 0.9): the loss explodes
  no-update    `update_model`'s result is not assigned (`update_model(state, grads)`), so
               the parameters never change and the loss stays at its start
"""
import argparse

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training import train_state

from flax_mnist_nnx import synthetic_digits

BUGS = ("none", "lr-100x", "no-update")


class CNN(nn.Module):
    """A simple CNN model."""

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(features=32, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.Conv(features=64, kernel_size=(3, 3))(x)
        x = nn.relu(x)
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))  # flatten
        x = nn.Dense(features=256)(x)
        x = nn.relu(x)
        x = nn.Dense(features=10)(x)
        return x


@jax.jit
def apply_model(state, images, labels):
    """Computes gradients, loss and accuracy for a single batch."""

    def loss_fn(params):
        logits = state.apply_fn({'params': params}, images)
        one_hot = jax.nn.one_hot(labels, 10)
        loss = jnp.mean(optax.softmax_cross_entropy(logits=logits, labels=one_hot))
        return loss, logits

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, logits), grads = grad_fn(state.params)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return grads, loss, accuracy


@jax.jit
def update_model(state, grads):
    return state.apply_gradients(grads=grads)


def train_epoch(state, train_ds, batch_size, rng, bug):
    """Train for a single epoch."""
    train_ds_size = len(train_ds['image'])
    steps_per_epoch = train_ds_size // batch_size

    perms = jax.random.permutation(rng, len(train_ds['image']))
    perms = perms[: steps_per_epoch * batch_size]  # skip incomplete batch
    perms = perms.reshape((steps_per_epoch, batch_size))

    epoch_loss = []
    epoch_accuracy = []

    for perm in perms:
        batch_images = train_ds['image'][perm, ...]
        batch_labels = train_ds['label'][perm, ...]
        grads, loss, accuracy = apply_model(state, batch_images, batch_labels)
        if bug == 'no-update':
            update_model(state, grads)
        else:
            state = update_model(state, grads)
        epoch_loss.append(loss)
        epoch_accuracy.append(accuracy)
    train_loss = np.mean(epoch_loss)
    train_accuracy = np.mean(epoch_accuracy)
    return state, train_loss, train_accuracy


def create_train_state(rng, learning_rate, momentum):
    """Creates initial `TrainState`."""
    cnn = CNN()
    params = cnn.init(rng, jnp.ones([1, 28, 28, 1]))['params']
    tx = optax.sgd(learning_rate, momentum)
    return train_state.TrainState.create(apply_fn=cnn.apply, params=params, tx=tx)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--epochs', type=int, default=4)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--bug', choices=BUGS, default='none')
    args = parser.parse_args()
    train_ds, test_ds = synthetic_digits(1280, seed=0), synthetic_digits(256, seed=1)
    train_ds = {k: jnp.asarray(v) for k, v in train_ds.items()}
    test_ds = {k: jnp.asarray(v) for k, v in test_ds.items()}
    rng = jax.random.key(0)

    rng, init_rng = jax.random.split(rng)
    state = create_train_state(init_rng, 10.0 if args.bug == 'lr-100x' else 0.1, 0.9)

    for epoch in range(1, args.epochs + 1):
        rng, input_rng = jax.random.split(rng)
        state, train_loss, train_accuracy = train_epoch(state, train_ds, args.batch_size, input_rng, args.bug)
        _, test_loss, test_accuracy = apply_model(state, test_ds['image'], test_ds['label'])

        print(
            'epoch:% 3d, train_loss: %.4f, train_accuracy: %.2f, test_loss: %.4f, test_accuracy: %.2f'
            % (epoch, train_loss, train_accuracy * 100, test_loss, test_accuracy * 100)
        )


if __name__ == '__main__':
    main()
