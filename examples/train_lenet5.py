"""The seed document's JAX LeNet-5 training code (section 3.2), corrected so that it runs.

`examples/seed_jax_lenet5_broken.py` is the document's code as printed; it stops at a SyntaxError,
and every line after has a mistake of its own (`examples/README.md` lists them, each with the
torch2flax rule that teaches the difference). This file keeps the document's structure -- a
LeNet-5, an AdamW optimizer, a cross-entropy criterion, a train loader and a test loader, epochs
of training followed by a test-accuracy print -- and writes each piece the way JAX and Flax work:

* the model is a `flax.linen.Module`: a description of the computation with no weights inside;
  its parameters are a separate tree made by `model.init` and passed to `model.apply`;
* nothing is mutated: a jitted `train_step` takes the training state (parameters and optimizer
  state) and a batch, and returns the new state; `jax.value_and_grad` differentiates a *function*
  of the parameters, so there is no `zero_grad()` and no `backward()`;
* evaluation is a jitted function that does not ask for gradients: JAX records nothing unless
  `jax.grad` is called, so there is no `torch.no_grad()` to translate (and `jax.disable_jit()`,
  which the document uses in its place, only makes the loop slower).

The document reads MNIST through loaders it never defines (`train_loader = ...`); here the
loaders iterate over numpy batches of a synthetic digit-sized dataset (SYNTHETIC DATA: the label
is the position of a brighter patch), so the script runs anywhere in a few seconds.

    python examples/train_lenet5.py [--epochs 5]
"""

from __future__ import annotations

import argparse

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

NUM_CLASSES = 10
IMAGE_SIZE = 28


class LeNet5(nn.Module):
    """LeNet-5 as the document lists it: two 5x5 convolutions with sigmoid and 2x2 max-pooling,
    then dense layers 256 -> 120 -> 84 -> `num_classes` (logits).

    Takes PyTorch's layout, `[batch, 1, 28, 28]` (NCHW), and runs channels-last inside, as Flax
    convolutions expect. Its parameter names and shapes are those of torch2flax's translation of
    `reference_models/lenet5.py`, so `torch2flax port` loads that model's PyTorch weights into it.
    """

    num_classes: int = NUM_CLASSES

    @nn.compact
    def __call__(self, x):  # S002: Flax calls __call__, not forward
        x = jnp.transpose(x, (0, 2, 3, 1))  # S004: NCHW -> NHWC for Flax's convolutions
        # L002: Conv(features, kernel_size); Flax pads 'SAME' by default, PyTorch (and LeNet) pad nothing.
        # A002: the sigmoid is jax.nn.sigmoid (here flax.linen's re-export); jnp has none.
        x = nn.sigmoid(nn.Conv(6, kernel_size=(5, 5), padding="VALID", name="conv1")(x))
        x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))  # L010: Flax's stride defaults to 1
        x = nn.sigmoid(nn.Conv(16, kernel_size=(5, 5), padding="VALID", name="conv2")(x))
        x = nn.max_pool(x, window_shape=(2, 2), strides=(2, 2))
        # S004: flatten in PyTorch's (C, H, W) order, so weights ported from PyTorch need no permutation
        x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
        x = nn.sigmoid(nn.Dense(120, name="fc1")(x))  # L001: Dense(out); the input size 16*4*4 is inferred
        x = nn.sigmoid(nn.Dense(84, name="fc2")(x))
        return nn.Dense(self.num_classes, name="fc3")(x)


class NumpyLoader:
    """Batches of `(images, labels)` numpy arrays over a dataset, reshuffled each epoch when `shuffle`.

    The part of a PyTorch `DataLoader` a training loop uses: `for images, labels in loader` and
    `len(loader)`. Data loading stays plain Python; only the step is compiled.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0):
        self.images, self.labels, self.batch_size, self.shuffle = images, labels, batch_size, shuffle
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.labels)) if self.shuffle else np.arange(len(self.labels))
        for start in range(0, len(order), self.batch_size):
            chosen = order[start:start + self.batch_size]
            yield self.images[chosen], self.labels[chosen]


def synthetic_digits(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SYNTHETIC DATA standing in for MNIST: `[count, 1, 28, 28]` float32 noise images, each with a
    brighter 7x7 patch at one of ten places; the label (int32, 0-9) says which place."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, NUM_CLASSES, count).astype(np.int32)
    images = rng.normal(0.0, 1.0, (count, 1, IMAGE_SIZE, IMAGE_SIZE)).astype(np.float32)
    for index, label in enumerate(labels):
        row, col = divmod(int(label), 4)  # a 3 x 4 grid of places, ten of them used
        images[index, 0, 7 * row:7 * row + 7, 7 * col:7 * col + 7] += 2.5
    return images, labels


def cross_entropy_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """`nn.CrossEntropyLoss()` (T051): softmax cross-entropy of logits against integer labels, batch mean."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def create_train_state(key: jax.Array, model: LeNet5, learning_rate: float) -> train_state.TrainState:
    """Parameters from `model.init` and an AdamW optimizer, held together in one immutable state.

    The document's `optim.AdamW(model.parameters(), learning_rate=0.001)` names PyTorch's optimizer;
    in JAX it is `optax.adamw`, and PyTorch's default weight decay (1e-2) must be written out:
    optax's default is 1e-4, a hundred times weaker.
    """
    params = model.init(key, jnp.zeros((1, 1, IMAGE_SIZE, IMAGE_SIZE)))["params"]
    optimizer = optax.adamw(learning_rate=learning_rate, weight_decay=1e-2)
    return train_state.TrainState.create(apply_fn=model.apply, params=params, tx=optimizer)


@jax.jit
def train_step(state: train_state.TrainState, images: jax.Array, labels: jax.Array):
    """One optimizer step: returns the new state and the batch's loss (a device scalar, not synced)."""

    def loss_fn(params):
        logits = state.apply_fn({"params": params}, images)
        return cross_entropy_loss(logits, labels)

    # jax.grad / value_and_grad transform a function of the parameters; the document's
    # jax.grad(loss)(model.params) differentiates a value and reads parameters the model does not hold.
    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    # optax's update returns (updates, new optimizer state) and changes nothing in place;
    # apply_gradients runs it and optax.apply_updates, and returns a new state.
    return state.apply_gradients(grads=grads), loss


@jax.jit
def eval_step(state: train_state.TrainState, images: jax.Array, labels: jax.Array) -> jax.Array:
    """How many of the batch's predictions are right. No gradient is asked for, so none is computed."""
    logits = state.apply_fn({"params": state.params}, images)
    predicted = jnp.argmax(logits, axis=1)  # T009: one array of indices, not a (values, indices) pair
    return (predicted == labels).sum()


def main(epochs: int = 5, batch_size: int = 64, train_size: int = 2048, test_size: int = 512) -> float:
    """Trains LeNet-5 on the synthetic digits for `epochs`, printing the test accuracy after each
    epoch as the document does; returns the last test accuracy (a fraction)."""
    model = LeNet5(num_classes=NUM_CLASSES)
    state = create_train_state(jax.random.PRNGKey(0), model, learning_rate=0.001)
    train_loader = NumpyLoader(*synthetic_digits(train_size, seed=1), batch_size=batch_size, shuffle=True)
    test_loader = NumpyLoader(*synthetic_digits(test_size, seed=2), batch_size=batch_size, shuffle=False)

    accuracy = 0.0
    for epoch in range(epochs):
        for images, labels in train_loader:
            state, loss = train_step(state, images, labels)

        correct = 0
        total = 0
        for images, labels in test_loader:
            correct += int(eval_step(state, images, labels))  # T022: int() waits for the device: once per batch
            total += labels.shape[0]
        accuracy = correct / total
        print(f"Epoch [{epoch + 1}/{epochs}], loss {float(loss):.4f}, Test Accuracy: {100 * accuracy:.2f}%")
    return accuracy


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    main(parser.parse_args().epochs)
