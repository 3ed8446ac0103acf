"""Speed of the emitted code: jitted Flax vs PyTorch eager (and torchax, when installed), train step and forward.

For every reference model (or those named on the command line), at the same batch, on the
same CPU, in the same process and the same mode (``--mode train``: batch statistics, dropout
on; ``eval``: running statistics), with the same thread count on both sides: the time of one
training step's gradient computation, loss = sum(out * g), gradients for the PARAMETERS only.

* Flax: ``jax.jit(jax.grad(loss, has_aux=True))`` with respect to ``params`` (the updated
  ``batch_stats`` are its aux output in train mode, as PyTorch updates its buffers in place);
* PyTorch: ``zero_grad(set_to_none=True)``, forward, ``loss.backward()`` (eager);
* torchax (the peer, when ``import torchax`` works: ``pip install -e ".[speed]"``): the same
  PyTorch model run as a JAX function (``torchax.extract_jax``), ``jax.jit(jax.grad(loss))`` with
  respect to its parameters (buffers held fixed).  Before timing, its output and parameter
  gradients are compared with PyTorch's in eval mode (deterministic); a model where they differ
  is timed without it, and the reason is printed.

``--step forward`` times the forward pass instead (Flax and torchax jitted, PyTorch eager under
``torch.no_grad()``); ``--step both`` (the default) times each model both ways.

The sides are measured interleaved (each repeat runs one sample of each, in an order that
rotates), so a load spike on a shared machine hits all of them; each sample times ``inner``
back-to-back calls (chosen so a sample lasts about ``--sample-ms`` on the slowest side).
Reported: the median of each side, and the median and p25-p75 of the per-repeat ratios
t2f/torch and t2f/torchax.  Target: Flax <= 0.8 x PyTorch and <= 1.0 x torchax.  Compile time
(first call: trace + XLA compile + run) of the Flax side is reported separately.

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
        [--step grad|forward|both] [--no-torchax] [--repeats 30] [--sample-ms 20] [--flax-dir DIR]
        [ClassName ...]
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
    parser.add_argument("--step", choices=("grad", "forward", "both"), default="both",
                        help="time the train step's gradient, the forward pass, or both")
    parser.add_argument("--no-torchax", action="store_true", help="leave out the torchax column")
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


def torchax_module():
    """``torchax`` when it imports (the optional ``speed`` extra), else None."""
    try:
        import torchax
    except Exception:  # noqa: BLE001 - not installed, or a build that does not import with this torch
        return None
    return torchax


def steps(model, batch_scale: int, train: bool, flax_dir: Path | None, peer: bool):
    """``({side: (grad_step, forward_step)}, batch, peer_note)``: each call runs to completion.

    Sides: ``t2f`` (the translation), ``torch`` (eager) and, when torchax imports and agrees with
    PyTorch, ``torchax``; ``peer_note`` says why torchax is left out (or how closely it agreed).
    """
    import inspect

    specs = scaled_specs(model, batch_scale)
    flax_source = None if flax_dir is None else flax_dir / f"{model.module}_flax.py"
    pair, _ = build_pair(model.path, model.class_name, specs, model.kwargs, flax_source, train=train)
    rng = np.random.default_rng(0)
    inputs = drawn_inputs(specs, rng)

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

    def torch_forward():
        with torch.no_grad():
            torch_model(*tensors)

    # Flax: jit(grad) with respect to the parameters only; what a training step differentiates
    flax_model = pair.flax_model
    takes_train = "train" in inspect.signature(type(flax_model).__call__).parameters
    params = pair.variables.get("params", {})
    rest = {k: v for k, v in pair.variables.items() if k != "params"}
    mutable = ["batch_stats"] if train and "batch_stats" in rest else False
    kwargs = {"train": True} if train and takes_train else {}
    rngs = {"noise": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}

    def apply(params, rest, args):
        result = flax_model.apply({"params": params, **rest}, *args, mutable=mutable, rngs=rngs, **kwargs)
        return result if mutable else (result, {})

    def loss(params, rest, args, cotangent):
        out, state = apply(params, rest, args)
        total = sum(jnp.vdot(o.astype(jnp.float32), c) for o, c in zip(jax.tree_util.tree_leaves(out), cotangent))
        return total, state

    grad_fn = jax.jit(jax.grad(loss, has_aux=True))
    forward_fn = jax.jit(apply)
    args = [jnp.asarray(x) for x in inputs]
    g_flax = [jnp.asarray(c) for c in cotangent]
    params = jax.tree_util.tree_map(jnp.asarray, params)
    rest = jax.tree_util.tree_map(jnp.asarray, rest)

    sides = {
        "t2f": (lambda: jax.block_until_ready(grad_fn(params, rest, args, g_flax)),
                lambda: jax.block_until_ready(forward_fn(params, rest, args))),
        "torch": (torch_step, torch_forward),
    }
    note = None
    torchax = torchax_module() if peer else None
    if peer and torchax is None:
        note = "torchax not installed (pip install -e '.[speed]')"
    elif torchax is not None:
        try:
            peer_steps, note = torchax_steps(torchax, torch_model, train, specs, inputs, cotangent)
            if peer_steps is not None:
                sides["torchax"] = peer_steps
        except Exception as error:  # noqa: BLE001 - the peer's failure is reported, never fatal
            note = f"torchax failed: {type(error).__name__}: {str(error).splitlines()[0][:120]}"
        if "torchax" not in sides:
            note = note or "torchax left out"
    return sides, specs[0].shape[0], note


def drawn_inputs(specs, rng) -> list[np.ndarray]:
    return [
        rng.standard_normal(s.shape).astype(np.float32) if s.is_float else rng.integers(s.low, s.high, s.shape).astype(s.dtype)
        for s in specs
    ]


#: input draws the peer's correctness is checked on, the timed one first: a draw can hold an exact tie (two
#: equal maxima in one max-pool window: LeNet-5 at 8x has one), whose gradient torchax routes to another
#: element than PyTorch; a peer that agrees on another draw is the same program, and times the same
PEER_DRAWS = 3


def torchax_steps(torchax, torch_model, train: bool, specs, inputs, cotangent):
    """torchax's ``(grad_step, forward_step)`` for ``torch_model`` and a note, or ``(None, reason)``.

    Its output and parameter gradients are checked against PyTorch's first, in eval mode (dropout
    and random draws off), on the timed inputs or, where they differ there, on up to ``PEER_DRAWS - 1``
    other draws (:data:`PEER_DRAWS`); then the model is put back in its mode and traced in it.
    """
    env = torchax.default_env()
    key = jax.random.PRNGKey(0)

    def functions():
        states, jax_func = torchax.extract_jax(torch_model, env)
        names = {name for name, _ in torch_model.named_parameters()}
        params = {k: v for k, v in states.items() if k in names}
        buffers = {k: v for k, v in states.items() if k not in names}

        def forward(params, buffers, args):
            with env.override_property(prng=key):  # a key of the trace: a random draw leaks no tracer
                return jax_func({**params, **buffers}, tuple(args))

        def loss(params, buffers, args, cotangent):
            out = forward(params, buffers, args)
            return sum(jnp.vdot(jnp.asarray(o, jnp.float32), c) for o, c in zip(jax.tree_util.tree_leaves(out), cotangent))

        return params, buffers, jax.jit(jax.grad(loss)), jax.jit(forward)

    def disagreement(inputs, cotangent) -> float:
        """The largest difference of torchax's outputs and parameter gradients from PyTorch's, eval mode."""
        args, g = [jnp.asarray(x) for x in inputs], [jnp.asarray(c) for c in cotangent]
        params, buffers, grad_fn, forward_fn = functions()
        out = forward_fn(params, buffers, args)
        grads = grad_fn(params, buffers, args, g)
        torch_model.zero_grad(set_to_none=True)
        result = torch_model(*[torch.from_numpy(x) for x in inputs])
        outs = [r for r in jax.tree_util.tree_leaves(result) if isinstance(r, torch.Tensor)]
        sum((o * torch.from_numpy(c)).sum() for o, c in zip(outs, cotangent)).backward()
        worst = 0.0
        pairs = list(zip(jax.tree_util.tree_leaves(out), outs))
        pairs += [(grads[name], p.grad) for name, p in torch_model.named_parameters() if p.grad is not None and name in grads]
        for mine, theirs in pairs:
            theirs = theirs.detach().numpy()
            scale = max(float(np.max(np.abs(theirs))), 1e-6)
            worst = max(worst, float(np.max(np.abs(np.asarray(mine) - theirs))) / scale)
        return worst

    state = {k: v.clone() for k, v in torch_model.state_dict().items()}
    torch_model.eval()
    errors = []
    try:
        draw_inputs, draw_cotangent = inputs, cotangent
        for draw in range(PEER_DRAWS):
            if draw:
                rng = np.random.default_rng(draw)
                draw_inputs = drawn_inputs(specs, rng)
                draw_cotangent = [rng.standard_normal(c.shape).astype(np.float32) for c in cotangent]
            errors.append(disagreement(draw_inputs, draw_cotangent))
            if errors[-1] <= 1e-3:
                break
    finally:
        torch_model.train(train)
        torch_model.load_state_dict(state)
        torch_model.zero_grad(set_to_none=True)
    if errors[-1] > 1e-3:
        return None, (f"torchax left out: differs from PyTorch by {', '.join(f'{e:.2g}' for e in errors)} "
                      f"(relative to the largest value) on {len(errors)} input draws")
    note = f"torchax agrees with PyTorch (eval mode) within {errors[-1]:.1g}"
    if len(errors) > 1:
        note += (f" on input draw {len(errors) - 1}; on the timed draw it differs by {errors[0]:.2g} (a tie PyTorch "
                 "and torchax break differently, e.g. two equal maxima in one max-pool window)")
    params, buffers, grad_fn, forward_fn = functions()  # traced again in the pair's mode
    args, g = [jnp.asarray(x) for x in inputs], [jnp.asarray(c) for c in cotangent]
    return (
        (lambda: jax.block_until_ready(grad_fn(params, buffers, args, g)),
         lambda: jax.block_until_ready(forward_fn(params, buffers, args))),
        note,
    )


def bench(model, args) -> list[dict]:
    sides, batch, note = steps(model, args.batch_scale, args.mode == "train", args.flax_dir, not args.no_torchax)
    kinds = {"grad": 0, "forward": 1}
    rows = []
    for kind in (["grad", "forward"] if args.step == "both" else [args.step]):
        names = list(sides)
        calls = {name: sides[name][kinds[kind]] for name in names}
        start = time.perf_counter()
        calls["t2f"]()
        compile_s = time.perf_counter() - start
        try:  # the peer's compile, outside the timing
            for name in names:
                calls[name]()
        except Exception as error:  # noqa: BLE001 - the peer's failure is reported, never fatal
            if "torchax" not in names:
                raise
            note = f"torchax failed ({kind}): {type(error).__name__}: {str(error).splitlines()[0][:120]}"
            names = [name for name in names if name != "torchax"]
            calls.pop("torchax")
        # warm-up, and the inner count: a sample of `inner` calls lasts about --sample-ms on the slowest side
        single = {name: [] for name in names}
        for _ in range(3):
            for name in names:
                start = time.perf_counter()
                calls[name]()
                single[name].append(time.perf_counter() - start)
        slowest = max(min(t) for t in single.values())
        inner = max(1, round(args.sample_ms / 1e3 / slowest))

        times = {name: [] for name in names}
        for i in range(args.repeats):  # the order rotates, so no side always runs first
            for name in names[i % len(names):] + names[:i % len(names)]:
                times[name].append(sample(calls[name], inner))
        row = {"model": model.class_name, "step": kind, "batch": batch, "compile_s": compile_s, "inner": inner, "note": note}
        for name in names:
            row[f"{name}_ms"] = 1e3 * quartiles(times[name])[1]
        for peer in names[1:]:
            q = quartiles([a / b for a, b in zip(times["t2f"], times[peer])])
            row[f"vs_{peer}"] = q
        rows.append(row)
    return rows


def sample(call, inner: int) -> float:
    """Seconds per call, over ``inner`` back-to-back calls."""
    start = time.perf_counter()
    for _ in range(inner):
        call()
    return (time.perf_counter() - start) / inner


def ratio_text(q) -> str:
    return f"{q[1]:5.2f} ({q[0]:.2f}-{q[2]:.2f})" if q else f"{'-':>16s}"


def main(args: argparse.Namespace) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"# mode={args.mode} step={args.step} threads: torch={torch.get_num_threads()} XLA PJRT_NPROC={os.environ.get('PJRT_NPROC', 'default')} "
          f"XLA_FLAGS={os.environ.get('XLA_FLAGS', '')!r} batch-scale={args.batch_scale} repeats={args.repeats} "
          f"flax={'fresh translation' if args.flax_dir is None else args.flax_dir}", flush=True)
    print("# ratios: median of the per-repeat ratios (p25-p75); targets t2f/torch <= 0.8, t2f/torchax <= 1.0")
    print(f"{'model':18s} {'step':7s} {'batch':>5s} {'compile s':>9s} {'t2f ms':>9s} {'torch ms':>9s} {'torchax ms':>10s} "
          f"{'t2f/torch':>16s} {'t2f/torchax':>16s} {'inner':>5s}")
    over = []
    for model in CATALOGUE:
        if args.models and model.class_name not in args.models:
            continue
        rows = bench(model, args)
        for note in dict.fromkeys(r["note"] for r in rows if r["note"]):
            print(f"# {model.class_name}: {note}")
        for r in rows:
            torch_q, peer_q = r.get("vs_torch"), r.get("vs_torchax")
            flag = []
            if torch_q[1] > 0.8:
                flag.append("torch")
            if peer_q and peer_q[1] > 1.0:
                flag.append("torchax")
            if flag:
                over.append(f"{r['model']} {r['step']} ({', '.join(flag)})")
            peer_ms = f"{r['torchax_ms']:10.3f}" if "torchax_ms" in r else f"{'-':>10s}"
            print(f"{r['model']:18s} {r['step']:7s} {r['batch']:5d} {r['compile_s']:9.2f} {r['t2f_ms']:9.3f} {r['torch_ms']:9.3f} "
                  f"{peer_ms} {ratio_text(torch_q)} {ratio_text(peer_q)} {r['inner']:5d}"
                  f"{'  (above target: ' + ', '.join(flag) + ')' if flag else ''}", flush=True)
    print(f"# above target: {'; '.join(over) if over else 'none'}")


if __name__ == "__main__":
    main(ARGS)
