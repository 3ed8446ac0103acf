"""Speed of the emitted code: jitted Flax forward+backward vs PyTorch eager forward+backward.

For every reference model (or those named on the command line), at the same batch, on the
same CPU, in the same process and the same mode (``--mode train``: batch statistics, dropout
on; ``eval``: running statistics), with the same thread count on both sides: the time of one
training step's gradient computation, loss = sum(out * g), gradients for the PARAMETERS only.

* Flax: ``jax.jit(jax.grad(loss, has_aux=True))`` with respect to ``params`` (the updated
  ``batch_stats`` are its aux output in train mode, as PyTorch updates its buffers in place);
* PyTorch: ``zero_grad(set_to_none=True)``, forward, ``loss.backward()`` (eager).

The two are measured interleaved (flax, torch, torch, flax, ...), so a load spike on a shared
machine hits both; each sample times ``inner`` back-to-back calls (chosen so a sample lasts
about ``--sample-ms``).  Reported: median and interquartile range (p25-p75) of each side, the
ratio of the medians, and the p25-p75 of the per-pair ratios.  Target: Flax <= 0.8 x PyTorch.
Compile time (first call: trace + XLA compile + run) is reported separately.

``--threads N`` runs both sides on N threads: ``torch.set_num_threads(N)``, and for XLA
``PJRT_NPROC=N`` (sizes the CPU client's intra-op pool, which XLA otherwise makes one thread
per core; XLA has no ``intra_op_parallelism_threads`` flag) plus, for N = 1,
``--xla_cpu_multi_thread_eigen=false``.  They are set before JAX is imported.
On a machine busier than its core count, N > 1 measures PyTorch's OpenMP barriers spinning
(eager torch slows 10-100x), not the models: use ``--threads 1`` there.

``--batch-scale K`` multiplies the catalogue's batch (tiny batches measure dispatch overhead).
``--flax-dir DIR`` times ``DIR/<module>_flax.py`` instead of a fresh translation (e.g.
``tests/golden`` or an edited copy, to prototype changes to the emitted code; the ported
variables must be the same).

    python benchmarks/model_speed.py [--threads 1] [--batch-scale 8] [--mode train|eval]
        [--repeats 30] [--sample-ms 20] [--flax-dir DIR] [ClassName ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", metavar="ClassName")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for both sides (default: each library's own default, all cores)")
    parser.add_argument("--batch-scale", type=int, default=1, help="multiply the catalogue's batch by this")
    parser.add_argument("--mode", choices=("train", "eval"), default="train")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved samples per side")
    parser.add_argument("--sample-ms", type=float, default=20.0, help="target duration of one sample")
    parser.add_argument("--flax-dir", type=Path, default=None,
                        help="time DIR/<module>_flax.py (e.g. tests/golden) instead of a fresh translation")
    return parser.parse_args(argv)


def configure_threads(threads: int | None) -> None:
    """Before JAX (and torch) are imported: XLA reads these when its CPU client is created."""
    if not threads:
        return
    os.environ["PJRT_NPROC"] = os.environ["NPROC"] = str(threads)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        if "xla_cpu_multi_thread_eigen" not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    configure_threads(ARGS.threads)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(ROOT))

from reference_models import CATALOGUE  # noqa: E402
from translator.equivalence.check import build_pair  # noqa: E402
from translator.equivalence.specs import InputSpec, parse_spec  # noqa: E402


def quartiles(values) -> tuple[float, float, float]:
    p25, p50, p75 = np.percentile(np.asarray(values), [25, 50, 75])
    return float(p25), float(p50), float(p75)


def scaled_specs(model, batch_scale: int) -> list[InputSpec]:
    specs = []
    for text in model.inputs:
        spec = parse_spec(text)
        specs.append(InputSpec(spec.dtype, (spec.shape[0] * batch_scale, *spec.shape[1:]), spec.low, spec.high))
    return specs


def steps(model, batch_scale: int, train: bool, flax_dir: Path | None):
    """``(flax_step, torch_step, batch)``: each call computes the parameter gradients once, to completion."""
    import inspect

    specs = scaled_specs(model, batch_scale)
    flax_source = None if flax_dir is None else flax_dir / f"{model.module}_flax.py"
    pair, _ = build_pair(model.path, model.class_name, specs, model.kwargs, flax_source, train=train)
    rng = np.random.default_rng(0)
    inputs = [
        rng.standard_normal(s.shape).astype(np.float32) if s.is_float else rng.integers(s.low, s.high, s.shape).astype(s.dtype)
        for s in specs
    ]

    # PyTorch: eager, in the pair's mode (build_pair called .train(train)); no input gradients
    torch_model = pair.torch_model
    tensors = [torch.from_numpy(x) for x in inputs]
    with torch.no_grad():
        out = torch_model(*tensors)
    leaves = [o for o in jax.tree_util.tree_leaves(out) if isinstance(o, torch.Tensor)]
    cotangent = [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in leaves]
    g_torch = [torch.from_numpy(c) for c in cotangent]

    def torch_step():
        torch_model.zero_grad(set_to_none=True)
        result = torch_model(*tensors)
        outs = [r for r in jax.tree_util.tree_leaves(result) if isinstance(r, torch.Tensor)]
        sum((o * c).sum() for o, c in zip(outs, g_torch)).backward()

    # Flax: jit(grad) with respect to the parameters only; what a training step differentiates
    flax_model = pair.flax_model
    takes_train = "train" in inspect.signature(type(flax_model).__call__).parameters
    params = pair.variables.get("params", {})
    rest = {k: v for k, v in pair.variables.items() if k != "params"}
    mutable = ["batch_stats"] if train and "batch_stats" in rest else False
    kwargs = {"train": True} if train and takes_train else {}
    rngs = {"noise": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}

    def loss(params, rest, args, cotangent):
        result = flax_model.apply({"params": params, **rest}, *args, mutable=mutable, rngs=rngs, **kwargs)
        out, state = result if mutable else (result, {})
        total = sum(jnp.vdot(o.astype(jnp.float32), c) for o, c in zip(jax.tree_util.tree_leaves(out), cotangent))
        return total, state

    grad_fn = jax.jit(jax.grad(loss, has_aux=True))
    args = [jnp.asarray(x) for x in inputs]
    g_flax = [jnp.asarray(c) for c in cotangent]
    params = jax.tree_util.tree_map(jnp.asarray, params)
    rest = jax.tree_util.tree_map(jnp.asarray, rest)

    def flax_step():
        jax.block_until_ready(grad_fn(params, rest, args, g_flax))

    return flax_step, torch_step, specs[0].shape[0]


def bench(model, args) -> dict:
    flax_step, torch_step, batch = steps(model, args.batch_scale, args.mode == "train", args.flax_dir)
    start = time.perf_counter()
    flax_step()
    compile_s = time.perf_counter() - start
    # warm-up, and the inner count: a sample of `inner` calls lasts about --sample-ms on the slower side
    single = []
    for step in (flax_step, torch_step) * 3:
        start = time.perf_counter()
        step()
        single.append(time.perf_counter() - start)
    slowest = max(min(single[0::2]), min(single[1::2]))
    inner = max(1, round(args.sample_ms / 1e3 / slowest))

    def sample(step) -> float:
        start = time.perf_counter()
        for _ in range(inner):
            step()
        return (time.perf_counter() - start) / inner

    flax_t, torch_t = [], []
    for i in range(args.repeats):
        if i % 2:  # alternate the order, so neither side always runs first
            torch_t.append(sample(torch_step))
            flax_t.append(sample(flax_step))
        else:
            flax_t.append(sample(flax_step))
            torch_t.append(sample(torch_step))
    flax_q, torch_q = quartiles(flax_t), quartiles(torch_t)
    ratio_q = quartiles([f / t for f, t in zip(flax_t, torch_t)])
    return {
        "model": model.class_name, "batch": batch, "compile_s": compile_s, "inner": inner,
        "flax_ms": 1e3 * flax_q[1], "flax_iqr": 1e3 * (flax_q[2] - flax_q[0]),
        "torch_ms": 1e3 * torch_q[1], "torch_iqr": 1e3 * (torch_q[2] - torch_q[0]),
        "ratio": flax_q[1] / torch_q[1], "ratio_p25": ratio_q[0], "ratio_p75": ratio_q[2],
    }


def main(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# mode={args.mode} threads: torch={torch.get_num_threads()} XLA PJRT_NPROC={os.environ.get('PJRT_NPROC', 'default')} "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} batch-scale={args.batch_scale} repeats={args.repeats} "
          f"flax={'fresh translation' if args.flax_dir is None else args.flax_dir}", flush=True)
    print(f"{'model':18s} {'batch':>5s} {'compile s':>9s} {'flax ms':>9s} {'(IQR)':>7s} {'torch ms':>9s} {'(IQR)':>7s} "
          f"{'ratio':>6s} {'pair p25-p75':>12s} {'inner':>5s}")
    over = []
    for model in CATALOGUE:
        if args.models and model.class_name not in args.models:
            continue
        r = bench(model, args)
        flag = "" if r["ratio"] <= 0.8 else "  (above the 0.8 target)"
        if flag:
            over.append(r["model"])
        print(f"{r['model']:18s} {r['batch']:5d} {r['compile_s']:9.2f} {r['flax_ms']:9.3f} {r['flax_iqr']:7.3f} "
              f"{r['torch_ms']:9.3f} {r['torch_iqr']:7.3f} {r['ratio']:6.2f} {r['ratio_p25']:5.2f}-{r['ratio_p75']:<6.2f} "
              f"{r['inner']:5d}{flag}", flush=True)
    print(f"# above target: {', '.join(over) if over else 'none'}")


if __name__ == "__main__":
    main(ARGS)
