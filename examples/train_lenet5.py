"""Training the translated LeNet-5 the JAX way: a pure, jitted step of optax + jax.grad.

This is what the seed document's JAX training loop (section 3.2) tries to be. Where PyTorch
mutates a model and an optimizer in place (`zero_grad`, `backward`, `step`), JAX threads
explicit state through a pure function: parameters and optimizer state in, new ones out.

    python examples/train_lenet5.py [--steps 100]

It trains on synthetic data (which quadrant of a noise image is brighter), so it runs anywhere.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import optax

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from translator.api import translate_file  # noqa: E402
from translator.loading import module_from_code  # noqa: E402


def load_lenet5():
    """The Flax LeNet-5, translated from reference_models/lenet5.py."""
    translation = translate_file(ROOT / "reference_models" / "lenet5.py")
    return module_from_code(translation.code, "lenet5_flax").LeNet5


def synthetic_batch(key, batch_size=64):
    """Noise images with one brighter quadrant; the label is that quadrant (NCHW, as PyTorch feeds them)."""
    noise_key, label_key = jax.random.split(key)
    labels = jax.random.randint(label_key, (batch_size,), 0, 4)
    rows, cols = jnp.arange(28)[:, None] >= 14, jnp.arange(28)[None, :] >= 14
    quadrant = rows.astype(jnp.int32) * 2 + cols.astype(jnp.int32)  # 0 1 / 2 3
    bright = (quadrant[None] == labels[:, None, None]).astype(jnp.float32)
    images = jax.random.normal(noise_key, (batch_size, 1, 28, 28)) + bright[:, None]
    return images, labels


def main(steps: int = 100) -> float:
    model = load_lenet5()(num_classes=4)
    key = jax.random.PRNGKey(0)
    params = model.init(key, jnp.zeros((1, 1, 28, 28)))["params"]
    optimizer = optax.adamw(learning_rate=1e-3)  # torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt_state = optimizer.init(params)

    @jax.jit
    def train_step(params, opt_state, images, labels):
        def loss_fn(params):
            logits = model.apply({"params": params}, images)
            return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()  # nn.CrossEntropyLoss

        loss, grads = jax.value_and_grad(loss_fn)(params)  # loss.backward()
        updates, opt_state = optimizer.update(grads, opt_state, params)  # optimizer.step() ...
        return optax.apply_updates(params, updates), opt_state, loss  # ... returns new state

    @jax.jit
    def accuracy(params, images, labels):  # no torch.no_grad(): nothing is recorded unless you ask for grads
        return (model.apply({"params": params}, images).argmax(-1) == labels).mean()

    for step in range(steps):
        key, batch_key = jax.random.split(key)
        images, labels = synthetic_batch(batch_key)
        params, opt_state, loss = train_step(params, opt_state, images, labels)
        if step % 20 == 0 or step == steps - 1:
            print(f"step {step:4d}  loss {float(loss):.4f}")
    images, labels = synthetic_batch(jax.random.PRNGKey(1), 512)
    result = float(accuracy(params, images, labels))
    print(f"held-out accuracy {100 * result:.1f}%")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    main(parser.parse_args().steps)
