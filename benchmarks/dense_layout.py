"""What a Dense kernel's layout costs on XLA's CPU backend: Flax's ``[in, out]`` against PyTorch's ``[out, in]``.

The translation and torchax compile SimpleCNN to the same program (the same two convolutions and two
dots, fused the same way) except for the linear layers' weights: ``nn.Dense`` stores its kernel
``[in, out]`` (``x @ kernel``), torchax keeps PyTorch's ``[out, in]`` (``x @ weight.T``).  This script
times that one difference, interleaved, in the same process, with 1 thread:

* ``dense``: one linear layer of each shape below (``x @ kernel`` vs a ``dot_general`` contracting the
  weight's last axis), forward and the gradient with respect to the weight and the input;
* ``simple_cnn``: SimpleCNN written out in JAX twice, identical but for its two kernels' layout;
* ``column_major``: the ``[in, out]`` kernel stored column-major (``jax.experimental.layout``), which
  holds the same bytes as ``[out, in]``: whether XLA can give Flax's logical shape the faster layout.

Reported: each variant's median milliseconds and the median (p25-p75) of the per-repeat ratio
``[in, out] / [out, in]``: above 1.0 means Flax's layout is the slower one.

    python benchmarks/dense_layout.py [--repeats 60] [--sample-ms 20]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("PJRT_NPROC", "1")
os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen=false".strip()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax.experimental.layout import Format, Layout  # noqa: E402

#: (rows, in, out) of reference models' linear layers at the catalogue batch and 8x: SimpleCNN's fc1, MLP's
#: fc1, GPT's c_attn and c_fc (rows = batch x 8 tokens)
DENSE_SHAPES = [(4, 4096, 128), (32, 4096, 128), (8, 784, 128), (64, 784, 128), (16, 16, 48), (128, 16, 48),
                (128, 16, 64)]


def matmul_in_out(x, kernel):
    """Flax's ``nn.Dense``: kernel ``[in, out]``."""
    return x @ kernel


def matmul_out_in(x, weight):
    """PyTorch's (and torchax's) linear: weight ``[out, in]``, contracted on its last axis."""
    return jax.lax.dot_general(x, weight, (((x.ndim - 1,), (1,)), ((), ())))


def conv_nhwc(x, kernel, bias):
    dims = ("NHWC", "HWIO", "NHWC")
    return jax.lax.conv_general_dilated(x, kernel, (1, 1), ((1, 1), (1, 1)), dimension_numbers=dims) + bias


def simple_cnn(params, x, matmul):
    """reference_models/simple_cnn.py's forward as the translation computes it (NCHW in, NHWC inside)."""
    x = jnp.transpose(x, (0, 2, 3, 1))
    x = jax.nn.relu(conv_nhwc(x, params["conv1"], params["bias1"]))
    x = jax.nn.relu(conv_nhwc(x, params["conv2"], params["bias2"]))
    x = jnp.transpose(x, (0, 3, 1, 2)).reshape(x.shape[0], -1)
    x = jax.nn.relu(matmul(x, params["fc1"]) + params["bias3"])
    return matmul(x, params["fc2"]) + params["bias4"]


def simple_cnn_params(key) -> dict:
    keys = jax.random.split(key, 4)
    return {
        "conv1": jax.random.normal(keys[0], (3, 3, 1, 32)) / 3, "bias1": jnp.zeros(32),
        "conv2": jax.random.normal(keys[1], (3, 3, 32, 64)) / 17, "bias2": jnp.zeros(64),
        "fc1": jax.random.normal(keys[2], (4096, 128)) / 64, "bias3": jnp.zeros(128),
        "fc2": jax.random.normal(keys[3], (128, 10)) / 11, "bias4": jnp.zeros(10),
    }


def transposed_kernels(params: dict) -> dict:
    return {k: jnp.asarray(v.T) if k.startswith("fc") else v for k, v in params.items()}


def interleaved(calls: dict, repeats: int, sample_ms: float) -> dict[str, list[float]]:
    """Milliseconds per call of each ``name -> (function, args)``, sampled in an order that alternates."""
    for function, args in calls.values():
        jax.block_until_ready(function(*args))
    start = time.perf_counter()
    for function, args in calls.values():
        jax.block_until_ready(function(*args))
    inner = max(1, round(sample_ms / 1e3 / ((time.perf_counter() - start) / len(calls))))
    times = {name: [] for name in calls}
    order = list(calls)
    for i in range(repeats):
        for name in order if i % 2 else order[::-1]:
            function, args = calls[name]
            start = time.perf_counter()
            for _ in range(inner):
                result = function(*args)
            jax.block_until_ready(result)
            times[name].append((time.perf_counter() - start) / inner * 1e3)
    return times


def report(label: str, times: dict[str, list[float]]) -> None:
    names = list(times)
    ratio = np.asarray(times[names[0]]) / np.asarray(times[names[1]])
    p25, p50, p75 = np.percentile(ratio, [25, 50, 75])
    medians = " / ".join(f"{np.median(times[n]):.3f}" for n in names)
    print(f"{label:<34} {medians:>20} ms   {' / '.join(names)}: {p50:.2f} ({p25:.2f}-{p75:.2f})", flush=True)


def loss_gradient(function):
    """The gradient with respect to the first two arguments of ``sum(function(...) * cotangent)``."""
    return jax.jit(jax.grad(lambda a, b, cotangent: jnp.vdot(function(a, b), cotangent), argnums=(0, 1)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    key = jax.random.PRNGKey(0)
    print(f"# jax {jax.__version__}, backend {jax.default_backend()}, 1 thread; ratio = [in, out] / [out, in]")

    for batch, fan_in, fan_out in DENSE_SHAPES:
        x = jax.random.normal(key, (batch, fan_in))
        kernel = jax.random.normal(key, (fan_in, fan_out)) / np.sqrt(fan_in)
        weight, cotangent = jnp.asarray(kernel.T), jnp.ones((batch, fan_out))
        label = f"dense {batch}x{fan_in} -> {fan_out}"
        report(f"{label} forward", interleaved({
            "[in,out]": (jax.jit(matmul_in_out), (x, kernel)),
            "[out,in]": (jax.jit(matmul_out_in), (x, weight)),
        }, args.repeats, args.sample_ms))
        report(f"{label} gradient", interleaved({
            "[in,out]": (loss_gradient(matmul_in_out), (x, kernel, cotangent)),
            "[out,in]": (loss_gradient(matmul_out_in), (x, weight, cotangent)),
        }, args.repeats, args.sample_ms))

    params = simple_cnn_params(key)
    for batch in (4, 32):
        x = jax.random.normal(key, (batch, 1, 8, 8))
        cotangent = jnp.ones((batch, 10))
        flax_side = lambda p, x: simple_cnn(p, x, matmul_in_out)  # noqa: E731
        torch_side = lambda p, x: simple_cnn(p, x, matmul_out_in)  # noqa: E731
        report(f"simple_cnn batch {batch} forward", interleaved({
            "[in,out]": (jax.jit(flax_side), (params, x)),
            "[out,in]": (jax.jit(torch_side), (transposed_kernels(params), x)),
        }, args.repeats, args.sample_ms))
        report(f"simple_cnn batch {batch} gradient", interleaved({
            "[in,out]": (loss_gradient(flax_side), (params, x, cotangent)),
            "[out,in]": (loss_gradient(torch_side), (transposed_kernels(params), x, cotangent)),
        }, args.repeats, args.sample_ms))

    x = jax.random.normal(key, (32, 4096))
    kernel = jax.random.normal(key, (4096, 128)) / 64
    device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    column_major = Format(Layout(major_to_minor=(1, 0)), device)
    compiled = jax.jit(matmul_in_out, in_shardings=(None, column_major)).lower(x, kernel).compile()
    report("dense 32x4096 -> 128 column-major", interleaved({
        "[in,out] col-major": (compiled, (x, jax.device_put(kernel, column_major))),
        "[in,out]": (jax.jit(matmul_in_out), (x, kernel)),
    }, args.repeats, args.sample_ms))


if __name__ == "__main__":
    main()
