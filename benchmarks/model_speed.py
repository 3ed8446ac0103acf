"""Speed of the emitted code: jitted Flax forward+backward vs PyTorch eager forward+backward.

For every reference model (or those named on the command line), at the same batch
on the same CPU: median wall time of one training-style step (loss = sum(out * g),
gradients for every parameter) after warm-up, and the ratio Flax / PyTorch
(target: <= 0.8). Compile time is reported separately.

    python benchmarks/model_speed.py [--repeats 20] [--batch-scale 4] [--torch-threads N] [ClassName ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reference_models import CATALOGUE  # noqa: E402
from translator.equivalence.check import build_pair  # noqa: E402
from translator.equivalence.specs import InputSpec, parse_spec  # noqa: E402


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(model, repeats: int, batch_scale: int) -> dict:
    specs = []
    for text in model.inputs:
        spec = parse_spec(text)
        specs.append(InputSpec(spec.dtype, (spec.shape[0] * batch_scale, *spec.shape[1:]), spec.low, spec.high))
    pair, _ = build_pair(model.path, model.class_name, specs, model.kwargs)
    rng = np.random.default_rng(0)
    inputs = [
        rng.standard_normal(s.shape).astype(np.float32) if s.is_float else rng.integers(s.low, s.high, s.shape).astype(s.dtype)
        for s in specs
    ]
    out = pair.torch_model(*[torch.from_numpy(x) for x in inputs])
    cotangent = [np.ones(tuple(o.shape), np.float32) for o in jax.tree_util.tree_leaves(out) if isinstance(o, torch.Tensor)]

    tensors = [torch.from_numpy(x) for x in inputs]
    g = [torch.from_numpy(c) for c in cotangent]

    def torch_step():
        pair.torch_model.zero_grad(set_to_none=True)
        result = pair.torch_model(*tensors)
        leaves = [r for r in jax.tree_util.tree_leaves(result) if isinstance(r, torch.Tensor)]
        sum((leaf * c).sum() for leaf, c in zip(leaves, g)).backward()

    grad_fn = pair._flax_grad_fn()
    params = pair.variables.get("params", {})
    floats = [jnp.asarray(x) for x, s in zip(inputs, specs) if s.is_float]
    others = [None if s.is_float else jnp.asarray(x) for x, s in zip(inputs, specs)]
    g_jax = [jnp.asarray(c) for c in cotangent]

    def flax_step():
        jax.block_until_ready(grad_fn(params, floats, others, g_jax))

    start = time.perf_counter()
    flax_step()
    compile_s = time.perf_counter() - start
    torch_step()
    flax_s = timed(flax_step, repeats)
    torch_s = timed(torch_step, repeats)
    return {"model": model.class_name, "batch": specs[0].shape[0], "compile_s": compile_s, "flax_ms": 1e3 * flax_s, "torch_ms": 1e3 * torch_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch-scale", type=int, default=4)
    parser.add_argument(
        "--torch-threads", type=int, default=None,
        help="torch.set_num_threads (on a loaded machine, OpenMP barriers make multi-threaded eager torch erratic)",
    )
    args = parser.parse_args()
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    print(f"{'model':18s} {'batch':>5s} {'compile s':>9s} {'flax ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for model in CATALOGUE:
        if args.models and model.class_name not in args.models:
            continue
        r = bench(model, args.repeats, args.batch_scale)
        ratio = r["flax_ms"] / r["torch_ms"]
        flag = "" if ratio <= 0.8 else "  (above the 0.8 target)"
        print(f"{r['model']:18s} {r['batch']:5d} {r['compile_s']:9.2f} {r['flax_ms']:9.2f} {r['torch_ms']:9.2f} {ratio:6.2f}{flag}", flush=True)


if __name__ == "__main__":
    main()
