"""A data-parallel Flax train step, the way JAX recommends now: `jax.jit` over a device mesh.

The seed document asks what JAX's `pmap` is (section 2.2, question 1). Its answer describes the
old API. Since JAX 0.8.0 `jax.pmap` is implemented with `jax.jit` and `jax.shard_map` and is in
maintenance mode (the 0.8.0 changelog; the installed docstring calls it the "old way of doing
parallel map" and points to `jax.shard_map`); new code uses one of:

* `jax.jit` with shardings: put the batch on a `Mesh` sharded along a 'data' axis
  (`NamedSharding(mesh, PartitionSpec("data"))`), the parameters replicated
  (`PartitionSpec()`), and jit the ordinary one-device train step. The compiler splits the
  work and inserts the cross-device reductions (the gradient all-reduce) itself.
* `jax.shard_map`: write the per-device program and the collectives yourself
  (`jax.lax.pmean` over 'data'), as with pmap, but composable with jit and autodiff.

Both give the one-device step's numbers; this script runs all three on the same batches and
prints the differences. It also shows what happens to batch norm: under `jax.jit`, Flax's
`BatchNorm` computes its mean and variance over the *whole* sharded batch (the compiler
all-reduces them), like PyTorch's `SyncBatchNorm`, not per device like BatchNorm under DDP. Under
`shard_map` each device sees only its shard, so the statistics are per device unless the layer
is given the axis to average over (`BatchNorm(axis_name="data")`); the script prints how far
per-device statistics are from the global ones on a batch sorted by class.

It runs on CPU: without an accelerator it asks XLA for 8 host devices
(`--xla_force_host_platform_device_count=8`), which must happen before JAX is imported.

    python examples/data_parallel_train_step.py
"""

from __future__ import annotations

import os

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count=8"
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {DEVICE_COUNT_FLAG}".strip()

from typing import Any  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402
from jax.sharding import AxisType, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

NUM_CLASSES = 8
FEATURES = 16
PER_DEVICE_BATCH = 8
STEPS = 3
BN_MOMENTUM = 0.9  # Flax's momentum is PyTorch's 1 - momentum (PyTorch's default 0.1)


class Classifier(nn.Module):
    """Dense -> BatchNorm -> ReLU -> Dense. `bn_axis_name` names the mesh axis batch norm averages
    its statistics over when the model runs per device (inside `shard_map`); None under `jit`."""

    bn_axis_name: str | None = None

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(32)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=BN_MOMENTUM, axis_name=self.bn_axis_name)(x)
        return nn.Dense(NUM_CLASSES)(nn.relu(x))


class TrainState(train_state.TrainState):
    """Parameters, optimizer state and batch norm's running statistics."""

    batch_stats: Any


def loss_and_batch_stats(model: Classifier, params, batch_stats, images, labels):
    """Mean cross-entropy of `model` in train mode, and batch norm's updated running statistics."""
    logits, updates = model.apply({"params": params, "batch_stats": batch_stats}, images, train=True,
                                  mutable=["batch_stats"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), updates["batch_stats"]


def train_step(state: TrainState, images, labels):
    """The ordinary one-device step; `jax.jit` runs it on one device or over a mesh unchanged."""
    (loss, batch_stats), grads = jax.value_and_grad(
        lambda params: loss_and_batch_stats(Classifier(), params, state.batch_stats, images, labels),
        has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=batch_stats), loss


def shard_map_train_step(mesh: jax.sharding.Mesh):
    """The same step with the forward pass written per device under `jax.shard_map`.

    Each device computes the loss of its shard; batch norm averages its statistics over 'data'
    (`axis_name`), and `pmean` makes the loss the global batch mean. The gradient is taken of the
    whole shard_map (outside it), so JAX sums the replicated parameters' cotangents across devices.
    """
    synchronised = Classifier(bn_axis_name="data")

    def per_device(params, batch_stats, images, labels):
        loss, new_stats = loss_and_batch_stats(synchronised, params, batch_stats, images, labels)
        return jax.lax.pmean(loss, "data"), new_stats

    sharded = jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(), P("data"), P("data")),
                            out_specs=(P(), P()))

    def step(state: TrainState, images, labels):
        (loss, batch_stats), grads = jax.value_and_grad(
            lambda params: sharded(params, state.batch_stats, images, labels), has_aux=True)(state.params)
        return state.apply_gradients(grads=grads, batch_stats=batch_stats), loss

    return step


def per_device_batch_means(mesh: jax.sharding.Mesh, state: TrainState, images) -> jax.Array:
    """Batch norm's batch mean on each device when nothing synchronises it (BatchNorm under DDP):
    one train-mode call per shard without `axis_name`; returns `[devices, 32]`."""
    unsynchronised = Classifier(bn_axis_name=None)

    def per_device(params, batch_stats, images):
        _, updates = unsynchronised.apply({"params": params, "batch_stats": batch_stats}, images, train=True,
                                          mutable=["batch_stats"])
        running_mean = updates["batch_stats"]["BatchNorm_0"]["mean"]
        batch_mean = (running_mean - BN_MOMENTUM * batch_stats["BatchNorm_0"]["mean"]) / (1 - BN_MOMENTUM)
        return batch_mean[None]

    return jax.shard_map(per_device, mesh=mesh, in_specs=(P(), P(), P("data")), out_specs=P("data"))(
        state.params, state.batch_stats, images)


def global_batch_mean(state: TrainState, images) -> jax.Array:
    """Batch norm's batch mean over the whole batch: the features entering it, averaged over the batch."""
    features = nn.Dense(32).apply({"params": state.params["Dense_0"]}, images)
    return features.mean(axis=0)


def class_sorted_batches(batch_size: int, steps: int, seed: int = 0):
    """SYNTHETIC DATA: `steps` batches of `[batch_size, 16]` points around one centre per class,
    sorted by label (as from an unshuffled loader over sorted data), so each device's shard holds
    mostly one class and its statistics differ from the batch's."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, (NUM_CLASSES, FEATURES)).astype(np.float32)
    for _ in range(steps):
        labels = np.sort(rng.integers(0, NUM_CLASSES, batch_size)).astype(np.int32)
        yield centres[labels] + rng.normal(0.0, 1.0, (batch_size, FEATURES)).astype(np.float32), labels


def largest_difference(first, second) -> float:
    """Largest |a - b| over two trees of arrays (read back to the host: they live on different devices)."""
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
               for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(second), strict=True))


def main() -> dict[str, float]:
    """Runs the one-device, jit-over-mesh and shard_map steps on the same batches; prints and returns
    the largest differences between them and the batch-norm statistics figures."""
    devices = jax.devices()
    # Auto axes: shardings propagate through the step as with any jit (make_mesh defaults to Explicit
    # axes in this JAX, where each array's type carries its sharding)
    mesh = jax.make_mesh((len(devices),), ("data",), axis_types=(AxisType.Auto,))
    batch_sharded = NamedSharding(mesh, P("data"))  # split the batch axis across the devices
    replicated = NamedSharding(mesh, P())  # every device holds a full copy
    batch_size = PER_DEVICE_BATCH * len(devices)
    print(f"{len(devices)} {devices[0].platform} devices, mesh {dict(mesh.shape)}, batch {batch_size} "
          f"({PER_DEVICE_BATCH} per device), parameters replicated")

    model = Classifier()
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, FEATURES)), train=False)
    initial = TrainState.create(apply_fn=model.apply, params=variables["params"],
                                batch_stats=variables["batch_stats"], tx=optax.sgd(0.1, momentum=0.9))

    one_device_step = jax.jit(train_step)
    mesh_step = jax.jit(train_step, in_shardings=(replicated, batch_sharded, batch_sharded),
                        out_shardings=(replicated, replicated))
    shard_map_step = jax.jit(shard_map_train_step(mesh))

    single = jax.device_put(initial, devices[0])
    on_mesh = jax.device_put(initial, replicated)
    by_shard_map = jax.device_put(initial, replicated)
    print(f"{'step':>4s} {'loss, 1 device':>15s} {'jit over mesh':>14s} {'shard_map':>10s}")
    for step, (images, labels) in enumerate(class_sorted_batches(batch_size, STEPS)):
        sharded_images = jax.device_put(images, batch_sharded)
        sharded_labels = jax.device_put(labels, batch_sharded)
        if step == 0:
            shard_shapes = {shard.data.shape for shard in sharded_images.addressable_shards}
            print(f"images {sharded_images.shape} sharded as {sharded_images.sharding.spec}: each device holds "
                  f"{shard_shapes.pop()}")
            batch_means = per_device_batch_means(mesh, on_mesh, sharded_images)
            batch_mean = global_batch_mean(single, images)
        single, loss_single = one_device_step(single, jax.device_put(images, devices[0]),
                                              jax.device_put(labels, devices[0]))
        on_mesh, loss_mesh = mesh_step(on_mesh, sharded_images, sharded_labels)
        by_shard_map, loss_shard_map = shard_map_step(by_shard_map, sharded_images, sharded_labels)
        print(f"{step:4d} {float(loss_single):15.6f} {float(loss_mesh):14.6f} {float(loss_shard_map):10.6f}")

    assert all(leaf.sharding.is_fully_replicated for leaf in jax.tree.leaves(on_mesh.params))
    figures = {
        "params_jit_mesh": largest_difference(single.params, on_mesh.params),
        "params_shard_map": largest_difference(single.params, by_shard_map.params),
        "batch_stats_jit_mesh": largest_difference(single.batch_stats, on_mesh.batch_stats),
        "batch_stats_shard_map": largest_difference(single.batch_stats, by_shard_map.batch_stats),
        "per_device_bn_mean": largest_difference(batch_means, np.asarray(batch_mean)[None]),
        "bn_mean_scale": float(np.max(np.abs(np.asarray(batch_mean)))),
    }
    print(f"after {STEPS} steps, largest |difference| from the one-device step:")
    print(f"  parameters,  jit over the mesh: {figures['params_jit_mesh']:.1e}")
    print(f"  parameters,  shard_map:         {figures['params_shard_map']:.1e}")
    print(f"  batch stats, jit over the mesh: {figures['batch_stats_jit_mesh']:.1e}  (global statistics, like SyncBatchNorm)")
    print(f"  batch stats, shard_map:         {figures['batch_stats_shard_map']:.1e}  (BatchNorm(axis_name='data'))")
    print(f"batch norm's first-step batch mean per device, unsynchronised (DDP-style BatchNorm): "
          f"{figures['per_device_bn_mean']:.2f} from the global mean at most (global means reach "
          f"{figures['bn_mean_scale']:.2f})")
    return figures


if __name__ == "__main__":
    main()
